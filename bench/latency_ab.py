"""Two builds' query latency over HTTP, side by side in one run: each query sent to both servers in turn.

    .venv/bin/python -m bench.latency_ab --before-tree ../before --before-index build/reuters-before \\
        --after-index build/reuters [--after-tree .] [--queries 200]

Both servers (`archive serve`, each from its own checkout of the project and on its own archive) are up
at once; every query goes to one and then the other, the order alternating from query to query, so a
change in the machine's load hits both sides alike (whole runs alternating, as `bench.latency` twice
would, let the load between runs weigh more than the builds' difference). Per mode: p50 and p95 of each
side, their ratios, and the median of the per-query ratios. The first 20 queries of each mode warm both up.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from time import perf_counter

from bench.common import Results, log, p50, p95, run_suite
from bench.latency import MODES, Server, reuters_queries, search_path

WARM = 20
SEEDS = {"keyword": 101, "semantic": 202, "hybrid": 303}  # one query set per mode (the vector cache stays cold)


def timed_get(server: Server, path: str) -> float:
    """Milliseconds for one GET answered 200."""
    started = perf_counter()
    status, body = server.get(path)
    if status != 200:
        raise RuntimeError(f"{path} answered {status}: {body[:300]!r}")
    return (perf_counter() - started) * 1000


def measure(results: Results, before: Server, after: Server, queries: int) -> None:
    """Adds one row per mode (after / before p50, with p95 and the per-query median in the note)."""
    for server in (before, after):
        server.first_answer(search_path("oil prices", "hybrid"))
    for mode in MODES:
        texts = reuters_queries(queries + WARM, seed=SEEDS[mode])
        a: list[float] = []
        b: list[float] = []
        for i, text in enumerate(texts):
            path = search_path(text, mode)
            if i % 2:
                y, x = timed_get(after, path), timed_get(before, path)
            else:
                x, y = timed_get(before, path), timed_get(after, path)
            if i >= WARM:
                a.append(x)
                b.append(y)
        per_query = p50([y / x for x, y in zip(a, b, strict=True)])
        results.details[mode] = {"before_ms": a, "after_ms": b}
        results.add(
            "latency-ab",
            f"{mode} p50 / p95 ms over HTTP, after",
            f"{p50(b):.1f} / {p95(b):.1f}",
            f"{p50(a):.1f} / {p95(a):.1f} before",
            p50(b) / p50(a),
            f"p95 ratio {p95(b) / p95(a):.3f}; median per-query ratio {per_query:.3f}; {len(a)} queries",
        )
        log(f"latency-ab: {mode} done")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before-tree", type=Path, required=True, help="checkout of the build to compare against")
    parser.add_argument("--before-index", type=Path, required=True, help="its archive (read only)")
    parser.add_argument("--after-tree", type=Path, default=Path.cwd(), help="checkout of this build (default: here)")
    parser.add_argument("--after-index", type=Path, required=True, help="its archive (read only)")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per mode (default %(default)s)")
    args = parser.parse_args(argv)

    def body(results: Results) -> None:
        before = Server(args.before_index.resolve(), tree=args.before_tree.resolve())
        after = Server(args.after_index.resolve(), tree=args.after_tree.resolve())
        try:
            measure(results, before, after, args.queries)
        finally:
            before.stop()
            after.stop()

    return run_suite("latency-ab", body)


if __name__ == "__main__":
    sys.exit(main())
