"""The acceptance query on a big archive as another encoder of its family would have embedded it, where it matters.

    .venv/bin/python -m bench.encoder_gate build/COPY-of-a-reuters-archive --encoder openvino

Re-embedding a whole archive to check one query's ranking costs the whole ingest. Within a family
the vectors differ by a bounded amount: per-text cosine >= C between the encoders' unit vectors
means a query's cosine to a chunk moves by at most sqrt(2 (1 - C)) (0.0141 for openvino's 0.9999).
So every article with a chunk within `--margin` (default 0.05, over three times that bound) of the
seed's best cosine is re-embedded with `--encoder` (all its chunks, in SQL and the index, through
the write path's own `embed_and_add`); articles further down cannot overtake the seed by meaning.
Then the acceptance queries run in every mode and the seed's rank and lead are printed.

The archive is WRITTEN (its manifest then names the encoder): pass a copy.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

SEED_UID = "seed-000-9d4ed8e042963c08"
QUERIES = ("Iran camera disconnection", "Tehran switches off UN watchdog surveillance equipment")
MODES = ("keyword", "semantic", "hybrid")


def near_articles(archive, query: str, seed_uid: str, margin: float) -> tuple[np.ndarray, float, int]:
    """(chunk ids of every article with a chunk within `margin` of the seed's best cosine, that cosine, articles)."""
    from archive.store.reads import find_article

    ids = archive.chunk_ids()
    scores = archive.vectors.vectors(ids) @ archive.encoder.encode_query(query)
    owners = archive.chunk_owners.lookup(ids.tolist())
    article_of = np.array([owners[int(i)] for i in ids])
    with archive.session() as s:
        seed = find_article(s, seed_uid)
        if seed is None:
            raise SystemExit(f"no article {seed_uid} in {archive.index_dir}")
        seed_id = int(seed.id)
    seed_best = float(scores[article_of == seed_id].max())
    near = np.unique(article_of[scores >= seed_best - margin])
    return ids[np.isin(article_of, near)], seed_best, len(near)


def reembed(archive, chunk_ids: np.ndarray) -> None:
    """Replace these chunks' vectors (SQL and index) with the archive's encoder's."""
    from archive.write.embed import IngestProgress, embed_and_add
    from archive.write.maintain import chunk_inputs, writing

    with writing(archive):
        archive.vectors.remove(chunk_ids)
        embed_and_add(archive, chunk_inputs(archive, chunk_ids.tolist()), IngestProgress(), None)
        archive.save_vectors()


def rankings(archive, seed_uid: str) -> dict:
    """Per query and mode: the seed's rank (1-based, 0 when absent) and the top three (uid, score)."""
    from archive.search import Searcher, SearchRequest

    searcher = Searcher(archive)
    out: dict = {}
    for query in QUERIES:
        for mode in MODES:
            results = searcher.search(SearchRequest(q=query, mode=mode, limit=10)).results
            uids = [r.uid for r in results]
            out[f"{query} | {mode}"] = {
                "seed_rank": uids.index(seed_uid) + 1 if seed_uid in uids else 0,
                "top": [(r.uid, round(float(r.score), 4)) for r in results[:3]],
            }
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    from archive.archive import open_archive
    from archive.config import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index_dir", type=Path, help="a COPY of a built archive (it is written)")
    parser.add_argument("--encoder", default="openvino")
    parser.add_argument("--margin", type=float, default=0.05)
    parser.add_argument("--seed-uid", default=SEED_UID)
    args = parser.parse_args(argv)
    archive = open_archive(Settings.from_env(index_dir=args.index_dir, encoder=args.encoder, rate_limit="off"))
    try:
        before = rankings(archive, args.seed_uid)
        chunk_ids = np.unique(
            np.concatenate([near_articles(archive, q, args.seed_uid, args.margin)[0] for q in QUERIES])
        )
        seed_best = near_articles(archive, QUERIES[0], args.seed_uid, args.margin)[1]
        print(
            f"re-embedding {len(chunk_ids)} chunks with {args.encoder} (seed's best cosine {seed_best:.4f})",
            file=sys.stderr,
        )
        reembed(archive, chunk_ids)
        after = rankings(archive, args.seed_uid)
    finally:
        archive.close()
    print(
        json.dumps(
            {"encoder": args.encoder, "reembedded_chunks": len(chunk_ids), "before": before, "after": after}, indent=1
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
