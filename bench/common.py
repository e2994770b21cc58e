"""Shared helpers of the performance benchmarks: data paths, timing, percentiles, memory, tables."""

from __future__ import annotations

import itertools
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.retrieval import percentile

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
REUTERS = SHARED_DATA / "reuters21578" / "corpus.jsonl"
SCIFACT = SHARED_DATA / "scifact"
SEEDS = PROJECT_ROOT / "seeds"
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
DEFAULT_REUTERS_INDEX = Path(os.environ.get("BENCH_REUTERS_INDEX", str(PROJECT_ROOT / "build" / "reuters")))


class Skip(Exception):
    """A benchmark cannot run here (missing data); the message says why."""


def require(path: Path, what: str) -> Path:
    """`path`, or Skip with a clear message when it does not exist."""
    if not path.exists():
        raise Skip(f"{what} not found at {path} (benchmarks need ../shared/data beside the project)")
    return path


@dataclass
class Row:
    """One line of the results table: a figure beside its same-run reference."""

    suite: str
    metric: str
    value: Any
    reference: Any = ""
    ratio: Any = ""
    note: str = ""


@dataclass
class Results:
    """Rows plus raw details, written as JSON and printed as one table."""

    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, suite: str, metric: str, value: Any, reference: Any = "", ratio: Any = "", note: str = "") -> None:
        """Append a row."""
        self.rows.append(Row(suite, metric, value, reference, ratio, note))

    def table(self) -> str:
        """The rows as a Markdown table."""
        header = ["suite", "figure", "value", "same-run reference", "ratio", "note"]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in self.rows:
            cells = [r.suite, r.metric, _fmt(r.value), _fmt(r.reference), _fmt(r.ratio), r.note]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
        return "\n".join(lines)

    def write(self, name: str) -> Path:
        """Save as bench/results/<name>-<timestamp>.json (git-ignored)."""
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
        payload = {"machine": machine(), "rows": [r.__dict__ for r in self.rows], "details": self.details}
        path.write_text(json.dumps(payload, indent=2, default=str))
        return path


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def machine() -> dict[str, Any]:
    """What the figures were measured on (load matters: the cores are shared)."""
    import psutil

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_avg": os.getloadavg(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """`with stopwatch() as t:` ... then t[0] holds the elapsed seconds."""
    box = [0.0]
    started = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - started


def p50(values: Sequence[float]) -> float:
    """Median."""
    return percentile(values, 50) if values else float("nan")


def p95(values: Sequence[float]) -> float:
    """95th percentile."""
    return percentile(values, 95) if values else float("nan")


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean (nan when empty)."""
    return statistics.fmean(values) if values else float("nan")


def rss_bytes(pid: int | None = None) -> int:
    """Resident memory of a process (this one by default)."""
    import psutil

    return int(psutil.Process(pid or os.getpid()).memory_info().rss)


def dir_bytes(path: Path) -> dict[str, int]:
    """Bytes on disk of an index directory: database (with WAL), vectors (every kept version), everything; and how many
    vector files (versions) that is."""
    # index/vectors.faiss links a version: only real files count, each stat'ed once
    sizes = {p: p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()}
    vectors = [p for p in sizes if p.name == "vectors.faiss"]  # one per published version kept (store.manifest)
    return {
        "database": sum(n for p, n in sizes.items() if p.name.startswith("archive.db")),
        "vectors": sum(sizes[p] for p in vectors),
        "total": sum(n for p, n in sizes.items() if "encoders" not in p.parts),
        "vector_files": len(vectors),
    }


def bench_settings(index_dir: Path):
    """Settings for an archive the benchmark opens: the environment's (ARCHIVE_ENCODER etc.), this index dir.

    The encoder is concrete: the one the archive recorded, else the new-archive default (for 'auto').
    """
    from archive.config import Settings
    from archive.encoders import resolve_encoder
    from archive.store.vectors import read_manifest

    recorded = read_manifest(index_dir)
    settings = Settings.from_env(index_dir=index_dir, rate_limit="off")
    return settings.with_(encoder=resolve_encoder(settings.encoder, recorded.encoder if recorded else None))


def share_encoder_cache(encoder, index_dir: Path) -> None:
    """Give an archive the int8 model file the benchmark already built (a real archive has it from its ingest).

    Without it the first `archive serve` on a fresh benchmark archive would export the model
    (torch import, export, quantisation) and its cold start would measure that one-time cost.
    """
    import shutil

    model_file = getattr(encoder, "model_file", None)
    if model_file is None:
        return
    target = index_dir / "encoders" / model_file.parent.name
    if not target.exists():
        shutil.copytree(model_file.parent, target)


def reuters_articles(skip: int = 0, count: int | None = None):
    """Reuters stories through the project's own reader (lazily), from story `skip` on."""
    from archive.readers import read_paths

    items = read_paths([require(REUTERS, "Reuters-21578 corpus")])
    return itertools.islice(items, skip, None if count is None else skip + count)


def run_suite(name: str, body: Callable[[Results], None]) -> int:
    """A suite's command line: run `body`, print the table, write bench/results/<name>-*.json.

    A `Skip` (data absent) prints why and exits 0: benchmarks skip, they do not fail.
    """
    results = Results()
    try:
        body(results)
    except Skip as skip:
        print(f"skipped: {skip}")
        return 0
    print(results.table())
    log(f"wrote {results.write(name)}")
    return 0


def log(message: str) -> None:
    """Progress lines go to stderr, so stdout holds only the table."""
    import sys

    print(message, file=sys.stderr, flush=True)
