"""Retrieval quality benchmark on any BEIR-format folder, through the project's own ingest and search.

    .venv/bin/python -m bench.retrieval ../shared/data/scifact --index-dir build/scifact

Reads corpus.jsonl, queries.jsonl and qrels/<split>.tsv; builds an archive with the
project's ingest path (`read_paths` + `ingest`) unless --index-dir already holds one;
runs every judged query through `Searcher.search` in each mode; prints nDCG@10,
Recall@100, MRR@10 and the per-query latency p50/p95 per mode.

What a result retrieves is what the searcher sees in that row: the article, then the other versions of its story
(the archive shows one result per story with its near copies listed under it, docs/search.md "One result per
story"), and any corpus document whose text the archive stored once under another id (same content hash: the
second copy is not stored). `--representatives-only` scores the results' own articles alone (the reading before
2026-12-02).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = PROJECT_ROOT.parent / "shared" / "data" / "scifact"
MODES = ("keyword", "semantic", "hybrid")

Qrels = dict[str, dict[str, int]]  # query id -> {doc id: relevance}


# -- metrics (pure) ------------------------------------------------------------------------


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain with trec_eval's linear gain: sum(g_i / log2(i + 1)), i 1-based."""
    return sum(g / math.log2(i + 1) for i, g in enumerate(gains, start=1))


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k of one ranking against graded judgments (ideal = judged docs sorted by grade)."""
    ideal = dcg(sorted((g for g in relevant.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([max(relevant.get(doc, 0), 0) for doc in ranked[:k]]) / ideal


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 100) -> float:
    """Share of the relevant docs (grade > 0) found in the top k."""
    wanted = {doc for doc, g in relevant.items() if g > 0}
    if not wanted:
        return 0.0
    return len(wanted.intersection(ranked[:k])) / len(wanted)


def mrr_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """Reciprocal rank of the first relevant doc within the top k, else 0."""
    for i, doc in enumerate(ranked[:k], start=1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / i
    return 0.0


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass
class ModeResult:
    """Mean metrics and latency of one mode over all queries."""

    mode: str
    ndcg10: float
    recall100: float
    mrr10: float
    p50_ms: float
    p95_ms: float
    queries: int


def evaluate(runs: Mapping[str, Sequence[str]], qrels: Qrels) -> tuple[float, float, float]:
    """Mean (nDCG@10, Recall@100, MRR@10) over the judged queries (a query without a run scores 0)."""
    judged = [q for q, rel in qrels.items() if any(g > 0 for g in rel.values())]
    if not judged:
        return 0.0, 0.0, 0.0
    n = len(judged)
    return (
        sum(ndcg_at_k(runs.get(q, []), qrels[q], 10) for q in judged) / n,
        sum(recall_at_k(runs.get(q, []), qrels[q], 100) for q in judged) / n,
        sum(mrr_at_k(runs.get(q, []), qrels[q], 10) for q in judged) / n,
    )


# -- BEIR folder ---------------------------------------------------------------------------


def read_qrels(path: Path) -> Qrels:
    """qrels TSV (query-id, corpus-id, score; header optional) -> {query: {doc: grade}}."""
    qrels: Qrels = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        parts = line.strip().split("\t")
        if len(parts) < 3 or (n == 0 and not parts[2].lstrip("-").isdigit()):
            continue  # header or blank
        qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return qrels


def read_queries(path: Path, wanted: Iterable[str]) -> dict[str, str]:
    """queries.jsonl -> {id: text}, only the wanted ids."""
    wanted = set(wanted)
    out = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                q = json.loads(line)
                if str(q["_id"]) in wanted:
                    out[str(q["_id"])] = q["text"]
    return out


def as_plain_words(text: str) -> str:
    """A benchmark query as bare words: quotes, leading minus and colons are query syntax, not content."""
    words = text.replace('"', " ").replace(":", " ").split()
    return " ".join(w.lstrip("-") for w in words if w.lstrip("-"))


def find_split(folder: Path, split: str | None) -> Path:
    """qrels/<split>.tsv, defaulting to test, then train, then the only file."""
    qdir = folder / "qrels"
    if split:
        return qdir / f"{split}.tsv"
    for name in ("test", "train"):
        if (qdir / f"{name}.tsv").exists():
            return qdir / f"{name}.tsv"
    found = sorted(qdir.glob("*.tsv"))
    return found[0] if found else qdir / "test.tsv"


# -- building and running ------------------------------------------------------------------


def open_or_build(
    corpus: Path, index_dir: Path, settings_overrides: Mapping[str, object], log: Callable[[str], None] = print
):
    """Open the archive in index_dir, ingesting corpus.jsonl first if it is empty."""
    from archive.archive import open_archive
    from archive.config import Settings
    from archive.readers import read_paths
    from archive.write import ingest

    settings = Settings.from_env(index_dir=index_dir, **settings_overrides)
    archive = open_archive(settings, create=True)
    if archive.is_empty():
        log(f"building the archive in {index_dir} from {corpus} (this embeds the whole corpus) ...")
        report = ingest(archive, read_paths([corpus]))
        log(
            f"  added {report.added}, duplicates {report.duplicates}, failed {len(report.failed)}, "
            f"{report.chunks} chunks in {report.seconds:.0f}s"
        )
    return archive


def copies_of_stored(archive, *corpora: Path) -> dict[str, list[str]]:
    """stored uid -> the corpus ids whose text the archive holds under it instead (a content-hash duplicate is
    stored once, under the first id read)."""
    from archive.readers import read_paths
    from archive.store import reads
    from archive.write.prepare import content_hash

    by_hash: dict[str, list[str]] = {}
    for article in read_paths(list(corpora)):
        if getattr(article, "uid", None) and (getattr(article, "body", None) or "").strip():
            by_hash.setdefault(content_hash(article), []).append(article.uid)
    with archive.engine.connect() as conn:
        holders = reads.holders_of_hashes(conn, [h for h, ids in by_hash.items() if len(ids) > 1])
    return {uid: [i for i in by_hash[h] if i != uid] for h, uid in holders.items()}


def retrieved(result, copies: Mapping[str, Sequence[str]] | None) -> list[str]:
    """The doc ids one result row shows: its article, its story's other versions (oldest first), and the corpus ids
    stored as either (`copies`). With `copies` None: the article alone."""
    if copies is None:
        return [result.uid]
    ids = [result.uid, *(v.uid for v in result.versions)]
    return [x for uid in ids for x in (uid, *copies.get(uid, ()))]


def run_mode(
    searcher, queries: Mapping[str, str], mode: str, depth: int = 100, copies: Mapping[str, Sequence[str]] | None = None
) -> tuple[dict[str, list[str]], list[float]]:
    """Search every query in one mode; returns ({query id: ranked doc ids (`retrieved`)}, latencies in ms)."""
    from archive.search import SearchRequest

    runs: dict[str, list[str]] = {}
    latencies: list[float] = []
    for qid, text in queries.items():
        started = time.perf_counter()
        response = searcher.search(SearchRequest(q=as_plain_words(text), mode=mode, limit=depth))
        latencies.append((time.perf_counter() - started) * 1000)
        runs[qid] = [x for r in response.results for x in retrieved(r, copies)]
    return runs, latencies


def benchmark(
    archive,
    queries: Mapping[str, str],
    qrels: Qrels,
    modes: Sequence[str],
    settings=None,
    *,
    copies: Mapping[str, Sequence[str]] | None,
) -> list[ModeResult]:
    """Run and score every mode (`copies`: `copies_of_stored`, or None for each row's own article: `retrieved`)."""
    from archive.search import Searcher

    searcher = Searcher(archive, settings)
    run_mode(searcher, dict(list(queries.items())[:3]), modes[0])  # warm-up: model load, caches
    results = []
    for mode in modes:
        cache = getattr(archive.encoder, "_query_cache", None)
        if cache is not None:
            cache.clear()  # each mode pays for its query embeddings: honest latencies
        runs, latencies = run_mode(searcher, queries, mode, copies=copies)
        ndcg, recall, mrr = evaluate(runs, {q: qrels[q] for q in queries})
        results.append(
            ModeResult(mode, ndcg, recall, mrr, percentile(latencies, 50), percentile(latencies, 95), len(queries))
        )
    return results


def format_table(results: Sequence[ModeResult]) -> str:
    """Markdown table of the results."""
    lines = ["| mode | nDCG@10 | Recall@100 | MRR@10 | p50 ms | p95 ms |", "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r.mode} | {r.ndcg10:.4f} | {r.recall100:.4f} | {r.mrr10:.4f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} |"
        )
    return "\n".join(lines)


def _setting_override(raw: str) -> tuple[str, object]:
    """NAME=VALUE for a Settings field, coerced to the field's type."""
    from archive.config import Settings, coerce_setting
    from archive.errors import ArchiveError

    name, _, value = raw.partition("=")
    known = {f.name: f for f in fields(Settings)}
    if name not in known or not _:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE with NAME a setting ({', '.join(known)})")
    try:
        return name, coerce_setting(name, known[name].default, value, known[name].metadata.get("low"))
    except ArchiveError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_DATA, help="BEIR folder (default: %(default)s)")
    parser.add_argument("--split", help="qrels split (default: test, else train)")
    parser.add_argument("--index-dir", type=Path, help="archive to reuse (built there when empty); default: a temp dir")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes (default: all)")
    parser.add_argument("--max-queries", type=int, help="only the first N judged queries")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        type=_setting_override,
        default=[],
        metavar="NAME=VALUE",
        help="override a setting, e.g. --set rrf_k=30 (repeatable)",
    )
    parser.add_argument(
        "--representatives-only",
        action="store_true",
        help="score each result's own article only, not its story's versions nor the texts stored under it",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)

    corpus, queries_file = args.folder / "corpus.jsonl", args.folder / "queries.jsonl"
    qrels_file = find_split(args.folder, args.split)
    missing = [p for p in (corpus, queries_file, qrels_file) if not p.exists()]
    if missing:
        print(
            f"skipped: BEIR data not found ({', '.join(map(str, missing))}); "
            "pass a folder holding corpus.jsonl, queries.jsonl and qrels/<split>.tsv",
            file=sys.stderr,
        )
        return 0
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if bad := [m for m in modes if m not in MODES]:
        parser.error(f"unknown mode(s): {', '.join(bad)}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    qrels = read_qrels(qrels_file)
    queries = read_queries(queries_file, qrels)
    if args.max_queries:
        queries = dict(list(queries.items())[: args.max_queries])
    overrides = dict(args.overrides)
    log = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp:
        index_dir = args.index_dir or Path(tmp) / "index"
        archive = open_or_build(corpus, index_dir, overrides, log)
        try:
            copies = None if args.representatives_only else copies_of_stored(archive, corpus)
            results = benchmark(archive, queries, qrels, modes, copies=copies)
        finally:
            archive.close()
    if args.json:
        print(
            json.dumps(
                {
                    "data": str(args.folder),
                    "split": qrels_file.stem,
                    "settings": overrides,
                    "versions_credited": not args.representatives_only,
                    "results": [r.__dict__ for r in results],
                },
                indent=2,
            )
        )
    else:
        scored = "each result's article only" if args.representatives_only else "results with their story's versions"
        print(
            f"{args.folder.name} ({qrels_file.stem}: {len(queries)} queries), settings {overrides or 'default'}, "
            f"scored: {scored}"
        )
        print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
