"""Filtered semantic search: the allowed chunk ids read from SQL on every query (as it was) against a bitmap per
filter kept by the archive (`store.allowed.AllowedChunks`), on a built archive.

    .venv/bin/python -m bench.filters build/vectors-reuters     # a copy of a built archive (read only)

For each filter, interleaved per query: (before) `reads.allowed_chunk_ids` + `VectorIndex.search` with the id
array; (after) `archive.allowed.selection` (one look at the highest chunk id, then the cached bitmap) + the
same search with the `Selection`. Query vectors are stored chunk vectors (no model needed); both paths must
return the same hits (checked). The first `selection` of each filter (a cold cache: the same SQL plus the
bitmap) is reported on its own.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import Results, bench_settings, log, p50, p95, require, run_suite

FILTERS = (
    "source:reuters",
    "place:usa",
    "topic:earn",
    "+oil",
    "topic:acq after:1987-03-01 before:1987-04-01",
    "after:1987-03-02 before:1987-03-03",
)


def run(results: Results, index_dir: Path, queries: int) -> None:
    """Every filter of FILTERS, `queries` query vectors each."""
    from archive.archive import open_archive
    from archive.query.parser import parse_query
    from archive.store import reads

    settings = bench_settings(require(index_dir / "archive.db", "a built archive")).with_(index_dir=index_dir)
    archive = open_archive(settings)
    vectors = archive.vectors
    ids = vectors.ids()
    rng = np.random.default_rng(3)
    probes = vectors.vectors(np.sort(rng.choice(ids, size=queries, replace=False)))
    log(f"filters: {archive.index_dir}, {vectors.count:,} vectors ({vectors.index_type}), {queries} queries each")
    k = settings.candidates
    for text in FILTERS:
        query = parse_query(text, settings.labels)
        started = time.perf_counter()
        cold = archive.allowed.selection(query)
        cold_ms = (time.perf_counter() - started) * 1000
        assert cold is not None
        before, after = [], []
        for probe in probes:
            started = time.perf_counter()
            with archive.engine.connect() as conn:
                allowed = reads.allowed_chunk_ids(conn, archive.keyword, query)
            old = vectors.search(probe, k, allowed)
            before.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            selection = archive.allowed.selection(query)
            new = vectors.search(probe, k, selection)
            after.append((time.perf_counter() - started) * 1000)
            if [i for i, _ in old] != [i for i, _ in new]:
                raise AssertionError(f"{text}: the bitmap found other chunks than the id list")
        results.add(
            "filters",
            f"{text!r} ({cold.count:,} chunks allowed): p50 / p95 ms",
            f"{p50(after):.2f} / {p95(after):.2f}",
            f"{p50(before):.2f} / {p95(before):.2f} ms read from SQL per query",
            p50(before) / p50(after),
            f"first use (cold) {cold_ms:.1f} ms; k={k}",
        )
        results.details[text] = {"allowed": cold.count, "cold_ms": cold_ms, "before": before, "after": after}
    archive.close()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index_dir", type=Path, nargs="?", default=Path("build/filters-archive"))
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args(argv)
    return run_suite("filters", lambda results: run(results, args.index_dir, args.queries))


if __name__ == "__main__":
    sys.exit(main())
