"""Keyword search under a narrow date filter, two checkouts side by side in one run: BM25 from bm25() (before)
against the driven match set scored by `store.keyword.fts5_score` (after).

    .venv/bin/python -m bench.driven_bm25 --before-tree ../main --index-dir build/scale/archive-100000 \\
        [--after-tree .] [--repeat 5] [--days 2013-05-14 2018-11-02 ...]

Two worker processes, each importing its own checkout's `archive` (its folder first on sys.path) and opening
the same archive (a copy: read only); every query goes to both in turn, the order alternating, so the
machine's load hits both alike. Timed: `Searcher.search` in keyword mode, first page of 10, in each worker's
process (page, counts, facets and story folding: the whole keyword search; `--mode hybrid` times hybrid). Per query and filter (one day,
one week), p50 of each side and their ratio; both sides' result ids and keyword scores are compared (the
scores differ only where an article count above `fts5_score.DF_CAP` is estimated). The after side remembers a
query's scores while the index is unchanged, so repeated asks are cheaper: the note gives the first ask of each
filter apart (phrases' article counts stay remembered across filters, `DF_SECONDS`).

    .venv/bin/python -m bench.driven_bm25 --index-dir ... --estimate-caps 5000 20000 100000

reports instead how far the estimated article count (past a cap) is from the exact one, on that archive.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from bench.common import PROJECT_ROOT, Results, log, p50, require, run_suite

QUERIES = (
    "said",
    "oil",
    "oil prices",
    '"central bank"',
    "dollar yen mark sterling franc currency markets central banks",
)
DAYS = ("2013-05-14", "2018-11-02", "2005-06-20", "2021-02-09", "2009-09-30")
WORKER = """
import json, sys, time
from pathlib import Path
from datetime import date
from archive.archive import open_archive
from archive.search import Searcher, SearchRequest
from bench.common import bench_settings
archive = open_archive(bench_settings(Path(sys.argv[1])))
searcher = Searcher(archive)
for line in sys.stdin:
    ask = json.loads(line)
    request = SearchRequest(q=ask["q"], mode=ask["mode"], limit=10, after=date.fromisoformat(ask["after"]),
                            before=date.fromisoformat(ask["before"]))
    started = time.perf_counter()
    response = searcher.search(request)
    ms = (time.perf_counter() - started) * 1000
    hits = [[r.id, r.score] for r in response.results]
    print(json.dumps({"ms": ms, "hits": hits, "total": response.total}), flush=True)
"""


class Worker:
    """One checkout's search in its own process, asked over stdin, answering one JSON line per query."""

    def __init__(self, tree: Path, index_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(index_dir)],
            cwd=tree,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, q: str, after: date, before: date, mode: str = "keyword") -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        asked = {"q": q, "after": after.isoformat(), "before": before.isoformat(), "mode": mode}
        self.proc.stdin.write(json.dumps(asked) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the worker in {self.proc.args} ended")
        return json.loads(line)

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-12)


def run(
    results: Results,
    before_tree: Path,
    after_tree: Path,
    index_dir: Path,
    days: list[str],
    repeat: int,
    mode: str,
    queries: list[str],
) -> None:
    """Every query of QUERIES on each day of `days` and on the week from it, `repeat` times each side."""
    require(index_dir / "archive.db", "a built archive (a copy: the workers only read it)")
    before, after = Worker(before_tree, index_dir), Worker(after_tree, index_dir)
    try:
        for worker in (before, after):  # warm both (statements, page cache)
            worker.ask("warm up grain", date(2013, 5, 14), date(2013, 5, 15), mode)
        for span, width in (("one day", 1), ("one week", 7)):
            for q in queries:
                a: list[float] = []
                b: list[float] = []
                same_ids, worst = True, 0.0
                for n, day in enumerate(days):
                    start = date.fromisoformat(day)
                    end = start + timedelta(days=width)
                    for i in range(repeat):
                        if (n + i) % 2:
                            y, x = after.ask(q, start, end, mode), before.ask(q, start, end, mode)
                        else:
                            x, y = before.ask(q, start, end, mode), after.ask(q, start, end, mode)
                        a.append(x["ms"])
                        b.append(y["ms"])
                    same_ids &= [h[0] for h in x["hits"]] == [h[0] for h in y["hits"]] and x["total"] == y["total"]
                    scores = dict(map(tuple, x["hits"]))
                    worst = max([worst] + [_relative(scores[i], s) for i, s in y["hits"] if i in scores])
                results.details[f"{q} [{span}]"] = {"before_ms": a, "after_ms": b}
                results.add(
                    "driven-bm25",
                    f"{mode} p50 ms, {q} [{span}], after",
                    p50(b),
                    p50(a),
                    p50(b) / p50(a),
                    f"first asks of each filter {p50(b[::repeat]):.1f} vs {p50(a[::repeat]):.1f}; "
                    f"max {max(b):.1f} vs {max(a):.1f}; same top 10 and totals: {same_ids}; "
                    f"max score difference {worst:.1e} (relative)",
                )
    finally:
        before.stop()
        after.stop()


ESTIMATED = (
    "said year company oil prices bank rates trade deficit shares profit cocoa rapeseed sugar quota coffee export "
    "soybean gold silver wheat dollar yen currency markets central interest crude opec japan loss grain merger"
).split()


def estimate_error(results: Results, index_dir: Path, caps: list[int]) -> None:
    """How far the article count estimated past a cap (its newest cap + 1 matches' id span) is from the exact
    count, and what that does to the idf, over the words of ESTIMATED (those counted past the cap)."""
    import math

    from archive.archive import open_archive
    from archive.store.keyword import fts5_score
    from bench.common import bench_settings

    archive = open_archive(bench_settings(index_dir))
    try:
        with archive.engine.connect() as conn:
            rows = archive.stats().articles
            words = [f'"{w}"' for w in ESTIMATED]

            def idf(n: int) -> float:
                return max(math.log((rows - n + 0.5) / (n + 0.5)), fts5_score.IDF_FLOOR)

            fts5_score.DF_CAP = rows  # past half the index: every count exact (or floored, past half)
            exact = fts5_score.DrivenBm25().counts(conn, words, rows)
            half = (rows + 1) // 2
            for cap in caps:
                fts5_score.DF_CAP = cap
                guessed = fts5_score.DrivenBm25().counts(conn, words, rows)
                over = [w for w in words if exact[w] > cap and exact[w] <= half]  # past half: floored (checked)
                floored = [w for w in words if exact[w] > half]
                count_errors = {w: abs(guessed[w] - exact[w]) / exact[w] for w in over}
                idf_errors = {w: abs(idf(guessed[w]) - idf(exact[w])) / idf(exact[w]) for w in over}
                worst = max(idf_errors, key=idf_errors.__getitem__, default="")
                results.details[f"estimate cap {cap}"] = {w: [exact[w], guessed[w]] for w in over + floored}
                results.add(
                    "driven-bm25",
                    f"article count estimated past {cap:,}: median / max relative error",
                    f"{p50(list(count_errors.values())):.4f} / {max(count_errors.values(), default=0):.4f}",
                    "",
                    "",
                    f"{len(over)} of {len(words)} words estimated; idf error median "
                    f"{p50(list(idf_errors.values())):.4f}, max {idf_errors.get(worst, 0):.4f} ({worst}, relative; "
                    f"absolute max {max((abs(idf(guessed[w]) - idf(exact[w])) for w in over), default=0):.4f}); "
                    f"past half the index (idf floored): {len(floored)}, estimated past half too: "
                    f"{sum(guessed[w] > half for w in floored)}",
                )
    finally:
        archive.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before-tree", type=Path, help="the checkout scoring with bm25() (required to time)")
    parser.add_argument("--after-tree", type=Path, default=PROJECT_ROOT, help="the checkout with fts5_score")
    parser.add_argument("--index-dir", type=Path, default=PROJECT_ROOT / "build" / "scale" / "archive-100000")
    parser.add_argument("--days", nargs="+", default=list(DAYS), help="first days of the filters")
    parser.add_argument("--repeat", type=int, default=5, help="times each query is asked of each side")
    parser.add_argument("--mode", default="keyword", choices=("keyword", "hybrid"), help="the search mode timed")
    parser.add_argument("--queries", nargs="+", default=list(QUERIES), help="the queries timed")
    parser.add_argument("--estimate-caps", type=int, nargs="*", default=[], help="only: the count estimate's error")
    args = parser.parse_args(argv)
    if args.estimate_caps:
        return run_suite(
            "driven-bm25-estimate", lambda results: estimate_error(results, args.index_dir, args.estimate_caps)
        )
    if args.before_tree is None:
        parser.error("--before-tree is required to time the two checkouts")
    log(f"driven-bm25: {args.before_tree} (before) against {args.after_tree} (after) on {args.index_dir}")
    return run_suite(
        "driven-bm25",
        lambda results: run(
            results,
            args.before_tree.resolve(),
            args.after_tree.resolve(),
            args.index_dir,
            args.days,
            args.repeat,
            args.mode,
            args.queries,
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
