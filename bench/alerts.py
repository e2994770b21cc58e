"""The cost of alerts in the write path: ingest with 100 saved searches vs. none, same run.

    .venv/bin/python -m bench.alerts --articles 1000                  # the hash encoder (the default here)
    .venv/bin/python -m bench.alerts --articles 300 --encoder onnx    # the real model
    .venv/bin/python -m bench.alerts --preload 15000                  # 1,000 more into 15,000 stories

Two fresh archives, A without saved searches and B with `--saved` (100) of them, take the same
Reuters stories in four parts, alternating ABBA so that background load weighs on both alike.
The saved searches are the 50 Reuters names of tests/fixtures/batch/newsroom_names.csv, each
in hybrid mode, plus half of them in keyword mode with a date filter and the other half in
semantic mode (100 in all: 75 decided by one SQL statement each, 25 by a matrix product).
Reported: ingest seconds of each side and their ratio, the seconds inside the alert hook, the
embedded steps (the unit of evaluation), and the SQL statements the hook issued per step.
With the hash encoder embedding is nearly free, so the ratio is the worst case; with the real
model the same absolute cost hides behind the model.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import threading
from pathlib import Path

from bench.common import PROJECT_ROOT, Results, log, reuters_articles, run_suite, stopwatch

QUERIES = PROJECT_ROOT / "tests" / "fixtures" / "batch" / "newsroom_names.csv"


def saved_requests(path: Path, count: int) -> list[tuple[str, object]]:
    """(name, SearchRequest) of `count` saved searches built from the names in `path`."""
    from datetime import date

    from archive.search import SearchRequest

    with path.open(encoding="utf-8") as f:
        names = [row["query"] for row in csv.DictReader(f)]
    out: list[tuple[str, object]] = []
    for i, name in enumerate(names):
        out.append((f"{name} (hybrid)", SearchRequest(q=name)))
        if i % 2:
            out.append((f"{name} (semantic)", SearchRequest(q=name, mode="semantic")))
        else:
            out.append((f"{name} (keyword, 1987)", SearchRequest(q=name, mode="keyword", after=date(1987, 1, 1))))
    return out[:count]


class HookCounter:
    """Counts the alert hook's calls, seconds and SQL statements (those issued on the hook's own thread)."""

    def __init__(self) -> None:
        self.steps = 0
        self.statements = 0
        self._inside = threading.local()

    def install(self, archive) -> None:
        from sqlalchemy import event

        import archive.write.embed as embed

        original = embed.record_alerts

        def counted(a, chunk_ids, vectors):  # type: ignore[no-untyped-def]
            if a is not archive:
                return original(a, chunk_ids, vectors)
            self.steps += 1
            self._inside.on = True
            try:
                return original(a, chunk_ids, vectors)
            finally:
                self._inside.on = False

        embed.record_alerts = counted

        @event.listens_for(archive.engine, "before_cursor_execute")
        def _count(*args) -> None:  # type: ignore[no-untyped-def]
            if getattr(self._inside, "on", False):
                self.statements += 1


def run(results: Results, articles: int, saved: int, encoder: str, preload: int = 0, parts: int = 4) -> None:
    from archive.archive import open_archive
    from archive.saved import list_saved, save_search
    from archive.write import ingest
    from bench.common import bench_settings

    earlier = list(reuters_articles(count=preload)) if preload else []
    stories = list(reuters_articles(skip=preload, count=articles))
    log(f"{len(earlier)} stories first, then {len(stories)} timed, {saved} saved searches, {parts} parts ABBA")
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp:
        plain = open_archive(bench_settings(Path(tmp) / "plain").with_(encoder=encoder), create=True)
        alerting = open_archive(
            bench_settings(Path(tmp) / "alerting").with_(encoder=encoder), create=True, encoder=plain.encoder
        )
        for archive in (plain, alerting) if earlier else ():
            ingest(archive, earlier)  # an archive of some size before the searches are saved (not timed)
        for name, request in saved_requests(QUERIES, saved):
            save_search(alerting, name, request)  # type: ignore[arg-type]
        counter = HookCounter()
        counter.install(alerting)
        seconds = {"plain": 0.0, "alerting": 0.0}
        alert_seconds = 0.0
        size = -(-len(stories) // parts)
        for part in range(parts):
            chunk = stories[part * size : (part + 1) * size]
            order = ("plain", "alerting") if part % 2 == 0 else ("alerting", "plain")
            for side in order:
                archive = plain if side == "plain" else alerting
                with stopwatch() as t:
                    report = ingest(archive, chunk)
                seconds[side] += t[0]
                if side == "alerting":
                    alert_seconds += report.timings.alerts
        searches = list_saved(alerting)
        total_alerts = sum(s.alerts for s in searches)
        example = next((s for s in searches if s.alerts), None)
        chunks = alerting.stats().chunks
        plain.close()
        alerting.close()
    ratio = seconds["alerting"] / seconds["plain"] if seconds["plain"] else float("nan")
    per_step = counter.statements / counter.steps if counter.steps else 0.0
    note = f"{len(stories)} stories after {len(earlier)}, {chunks} chunks in all, encoder {encoder}"
    results.add(
        "alerts",
        f"ingest s, {saved} saved searches",
        round(seconds["alerting"], 2),
        round(seconds["plain"], 2),
        round(ratio, 3),
        note,
    )
    results.add(
        "alerts",
        "s inside the alert hook",
        round(alert_seconds, 2),
        round(seconds["alerting"], 2),
        round(alert_seconds / seconds["alerting"], 3) if seconds["alerting"] else "",
        "share of that ingest",
    )
    results.add(
        "alerts", "embedded steps (evaluations)", counter.steps, "", "", "one evaluation of every saved search each"
    )
    results.add("alerts", "SQL statements per step", round(per_step, 1), saved, "", "reference: one per saved search")
    results.add(
        "alerts", "alerts recorded", total_alerts, "", "", f"e.g. {example.name!r}: {example.alerts}" if example else ""
    )
    results.details.update(
        seconds=seconds,
        alert_seconds=alert_seconds,
        steps=counter.steps,
        statements=counter.statements,
        alerts=total_alerts,
        stories=len(stories),
        chunks=chunks,
        encoder=encoder,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=1000, help="Reuters stories to ingest (default 1000)")
    parser.add_argument("--saved", type=int, default=100, help="saved searches (default 100, at most 100)")
    parser.add_argument("--encoder", default="hash", help="hash (default: the worst case) or onnx (the real model)")
    parser.add_argument("--preload", type=int, default=0, help="stories stored first, untimed (an archive's size)")
    args = parser.parse_args(argv)
    return run_suite("alerts", lambda results: run(results, args.articles, args.saved, args.encoder, args.preload))


if __name__ == "__main__":
    sys.exit(main())
