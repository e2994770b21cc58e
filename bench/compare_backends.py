"""The same queries on two archives (e.g. SQLite and its PostgreSQL copy): are the pages the same?

    .venv/bin/python -m bench.compare_backends QUERIES A_INDEX_DIR B_INDEX_DIR --b-database-url URL [--a-database-url URL]

QUERIES is a BEIR queries.jsonl or a text file with one query per line. Per mode, prints how many
queries got the very same top-k (ids and order), the mean overlap of the two top-k sets, and for
semantic mode the largest score difference.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

MODES = ("semantic", "keyword", "hybrid")


def read_queries(path: Path, limit: int | None) -> list[str]:
    """Queries from a BEIR queries.jsonl (the "text" field) or one per line."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if path.suffix == ".jsonl":
        lines = [json.loads(line)["text"] for line in lines]
    return lines[:limit] if limit else lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("queries", type=Path)
    parser.add_argument("a_index_dir", type=Path)
    parser.add_argument("b_index_dir", type=Path)
    parser.add_argument("--a-database-url")
    parser.add_argument("--b-database-url")
    parser.add_argument("--max-queries", type=int)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args(argv)

    from archive.archive import open_archive
    from archive.config import Settings
    from archive.search import Searcher, SearchRequest
    from bench.retrieval import as_plain_words

    searchers = [
        Searcher(open_archive(Settings.from_env(index_dir=d, database_url=u)))
        for d, u in ((args.a_index_dir, args.a_database_url), (args.b_index_dir, args.b_database_url))
    ]
    queries = [as_plain_words(q) for q in read_queries(args.queries, args.max_queries)]
    for mode in MODES:
        same, overlap, worst = 0, 0.0, 0.0
        for q in queries:
            a, b = (s.search(SearchRequest(q=q, mode=mode, limit=args.k)).results for s in searchers)
            ids_a, ids_b = [r.uid for r in a], [r.uid for r in b]
            same += ids_a == ids_b
            overlap += len(set(ids_a) & set(ids_b)) / max(len(ids_a), len(ids_b), 1)
            if ids_a == ids_b:
                worst = max([worst, *(abs(x.score - y.score) for x, y in zip(a, b, strict=True))])
        n = len(queries)
        extra = f", largest score difference {worst:.2e}" if mode == "semantic" else ""
        print(f"{mode}: identical top-{args.k} for {same}/{n} queries, mean overlap {overlap / n:.3f}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
