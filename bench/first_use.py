"""The first use of a filter in a filtered semantic or hybrid search: its allowed-chunk `Selection` read from the
SQL join (as it was) against one made from the doc values and the owners table (`store.allowed`), on a built
archive (a copy: the doc values and the owners table are read, the owners file may be written).

    .venv/bin/python -m bench.first_use build/scale/archive-100000 --rounds 5

For each filter, interleaved per round (the order alternating): (before) `reads.max_chunk_id` +
`reads.allowed_chunk_ids` + `Selection.of`, what `AllowedChunks.selection` did on a filter it had not kept;
(after) `AllowedChunks.selection` with no filters kept, in two states: `warm`, one instance across filters (the
owners table already checked against SQL since the last commit: a process serving), and `checked`, a new
instance each time (the table's check against SQL, two aggregates over the chunks, paid again). Both must give
the same bitmap, count and ids (checked). Wall and process CPU times; the one-time costs of the process (doc
values read, owners table mapped) are reported on their own.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import PROJECT_ROOT, Results, bench_settings, log, p50, require, run_suite

FILTERS = (
    "source:reuters",
    "after:2000-01-01 before:2010-01-01",
    "place:usa",
    "topic:earn",
    "after:2010-03-01 before:2010-03-08",
    "author:smith",
    "source:bloomberg place:usa after:2005-01-01",
    "+oil",
    "oil -opec",
)


def timed(make: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, wall ms, process CPU ms)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = make()
    return out, (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def run(results: Results, index_dir: Path, rounds: int) -> None:
    """Every filter of FILTERS, `rounds` interleaved rounds each."""
    from archive.archive import open_archive
    from archive.query.parser import parse_query
    from archive.store import reads
    from archive.store.allowed import AllowedChunks
    from archive.store.vectors.selection import Selection

    settings = bench_settings(require(index_dir / "archive.db", "a built archive")).with_(index_dir=index_dir)
    archive = open_archive(settings)
    fields = tuple(settings.labels.values())
    _, values_ms, _ = timed(lambda: archive.doc_values.current(fields))
    _, table_ms, _ = timed(archive.chunk_owners.table)
    with archive.engine.connect() as conn:
        chunks = reads.chunk_count(conn)
    log(f"first use: {index_dir}, {chunks:,} chunks; doc values {values_ms:.0f} ms, owners table {table_ms:.0f} ms")
    results.add(
        "first_use", "once per process: doc values read / owners table mapped, ms", f"{values_ms:.0f} / {table_ms:.0f}"
    )
    results.details["once"] = {"doc_values_ms": values_ms, "owners_table_ms": table_ms, "chunks": chunks}
    values = (archive.doc_values, archive.chunk_owners, fields)
    warm = AllowedChunks(archive.engine, archive.keyword, 0, values)
    whole = archive.chunk_owners.whole
    _, look_ms, _ = timed(lambda: warm.selection(parse_query(FILTERS[0], settings.labels)))
    results.add(
        "first_use",
        "once per process: the first selection (owners table checked against SQL) ms",
        f"{look_ms:.0f}",
        note="the table was marked whole" if whole else "an unmarked table: every stored chunk id read once",
    )
    results.details["once"]["first_selection_ms"] = look_ms
    results.details["once"]["table_marked_whole"] = whole

    def before(query: Any) -> Selection:
        with archive.engine.connect() as conn:
            top = reads.max_chunk_id(conn)
            return Selection.of(reads.allowed_chunk_ids(conn, archive.keyword, query), top)

    def checked(query: Any) -> Selection | None:
        return AllowedChunks(archive.engine, archive.keyword, 0, values).selection(query)

    for text in FILTERS:
        query = parse_query(text, settings.labels)
        times: dict[str, list[tuple[float, float]]] = {"before": [], "warm": [], "checked": []}
        count = 0
        for n in range(rounds):
            ways = [("before", before), ("warm", warm.selection), ("checked", checked)]
            made: dict[str, Any] = {}
            for name, way in ways if n % 2 == 0 else ways[::-1]:
                made[name], wall, cpu = timed(lambda way=way, query=query: way(query))
                times[name].append((wall, cpu))
            reference = made["before"]
            count = reference.count
            for name in ("warm", "checked"):
                got = made[name]
                same = got.count == reference.count and np.array_equal(got.bitmap, reference.bitmap)
                if not same or (got.ids is None) != (reference.ids is None):
                    raise AssertionError(f"{text}: {name} gave another selection than the SQL join")
        med = {name: (p50([w for w, _ in t]), p50([c for _, c in t])) for name, t in times.items()}
        results.add(
            "first_use",
            f"{text!r} ({count:,} chunks): warm / checked, wall ms (cpu ms)",
            f"{med['warm'][0]:.1f} ({med['warm'][1]:.1f}) / {med['checked'][0]:.1f} ({med['checked'][1]:.1f})",
            f"{med['before'][0]:.1f} ({med['before'][1]:.1f}) SQL join",
            f"{med['before'][0] / med['warm'][0]:.1f}x / {med['before'][0] / med['checked'][0]:.1f}x",
            f"{rounds} rounds, p50",
        )
        results.details[text] = {"chunks": count, **times}
    archive.close()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = PROJECT_ROOT / "build" / "scale" / "archive-100000"
    parser.add_argument("index_dir", type=Path, nargs="?", default=default)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    return run_suite("first_use", lambda results: run(results, args.index_dir, args.rounds))


if __name__ == "__main__":
    sys.exit(main())
