"""Calibrate the relevance floor: best-chunk cosines of relevant vs non-relevant articles on a BEIR folder.

    .venv/bin/python -m bench.floor --index-dir <an archive of the folder's corpus, built by bench.retrieval>

For every judged query, the semantic candidate window (`search.candidates.semantic_articles`, the
window a search ranks) is split into the articles the judges called relevant and the rest; prints the
share of each kept at each floor and the percentiles of the relevant cosines (docs/search.md,
"Relevance floor").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from bench.retrieval import DEFAULT_DATA, as_plain_words, find_split, read_qrels, read_queries

FLOORS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_DATA, help="BEIR folder (default: %(default)s)")
    parser.add_argument("--split", default="train", help="qrels split (default: %(default)s)")
    parser.add_argument("--index-dir", type=Path, required=True, help="an archive of the folder's corpus")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        print(f"skipped: no BEIR folder at {args.folder} (../shared/data is absent)")
        return 0
    from sqlalchemy import select

    from archive.archive import open_archive
    from archive.config import Settings
    from archive.query import parse_query
    from archive.search.candidates import semantic_articles
    from archive.store.models import ArticleRow

    qrels = read_qrels(find_split(args.folder, args.split))
    queries = read_queries(args.folder / "queries.jsonl", qrels)
    archive = open_archive(Settings(index_dir=args.index_dir, rate_limit="off"), create=False)
    with archive.engine.connect() as conn:
        uid_of = dict(conn.execute(select(ArticleRow.id, ArticleRow.uid)).all())
    relevant, other = [], []
    for qid, judged in qrels.items():
        for article_id, _, _, cosine in semantic_articles(archive, parse_query(as_plain_words(queries[qid])), 1):
            (relevant if uid_of.get(article_id) in judged else other).append(cosine)
    rel, non = np.array(relevant), np.array(other)
    print(f"{len(qrels)} queries: {len(rel)} relevant and {len(non)} other articles in the semantic windows")
    print("| floor | relevant kept | others dropped |\n|---|---|---|")
    for floor in FLOORS:
        print(f"| {floor:.2f} | {np.mean(rel >= floor):.1%} | {np.mean(non < floor):.1%} |")
    print("relevant cosine percentiles 1/5/10/50:", np.percentile(rel, [1, 5, 10, 50]).round(3).tolist())
    print("other cosine percentiles 50/90/99:", np.percentile(non, [50, 90, 99]).round(3).tolist())
    archive.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
