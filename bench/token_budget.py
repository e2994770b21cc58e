"""The token budget: chunk size, sentence overlap and the title prefix against tokens embedded and quality.

    .venv/bin/python -m bench.token_budget --count-only            # tokens per article of every point (no model)
    .venv/bin/python -m bench.token_budget --points 200/1/48,256/0/48 --encoder openvino

A point is CHUNK_TOKENS/OVERLAP/TITLE_TOKENS (ARCHIVE_CHUNK_TOKENS, ARCHIVE_CHUNK_OVERLAP,
ARCHIVE_TITLE_TOKENS). For each point: the tokens the model sees per article (title prefix,
passage, [CLS] and [SEP]) on SciFact and on the news set's corpus, then, unless --count-only,
SciFact built through the real ingest with those settings and every judged train query run in
each mode (nDCG@10), and the same for a subset of the news known-item set (the first N train
queries' articles plus random distractors; its queries are headlines, its corpus has no titles).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from bench.common import SCIFACT, Results, log, require, run_suite
from bench.news_devset import DEFAULT_OUT

NEWS_DEV_SET = DEFAULT_OUT  # bench.news_devset writes it
DEFAULT_POINTS = "200/1/48,200/0/48,256/1/48,256/0/48,256/0/0,128/0/48"


def parse_point(text: str) -> tuple[int, int, int]:
    """'CHUNK/OVERLAP/TITLE' -> three ints."""
    chunk, overlap, title = (int(x) for x in text.split("/"))
    return chunk, overlap, title


def point_settings(point: tuple[int, int, int]) -> dict[str, int]:
    """The Settings fields a point sets."""
    chunk, overlap, title = point
    return {"chunk_tokens": chunk, "chunk_overlap_sentences": overlap, "title_tokens": title}


def read_records(path: Path) -> list[dict]:
    """A BEIR corpus.jsonl as records."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def tokens_per_article(encoder, records: list[dict], point: tuple[int, int, int]) -> tuple[float, float]:
    """(model tokens, chunks) per article that ingest would embed at this point (no model run)."""
    from archive.config import Settings
    from archive.documents import Article, ReadFailure
    from archive.write.prepare import embedding_text, prepare

    fake = SimpleNamespace(settings=Settings(**point_settings(point)), encoder=encoder)
    tokens = chunks = articles = 0
    for r in records:
        prepared = prepare(fake, Article(title=r.get("title") or "", body=r.get("text") or "", uid=str(r["_id"])))  # type: ignore[arg-type]
        if isinstance(prepared, ReadFailure):
            continue
        texts = [embedding_text(prepared.embed_prefix, c.text) for c in prepared.chunks]
        tokens += sum(encoder.count_tokens(texts)) + 2 * len(texts)
        chunks += len(texts)
        articles += 1
    return tokens / max(articles, 1), chunks / max(articles, 1)


def news_subset(folder: Path, queries: int, distractors: int, seed: int = 7) -> tuple[list[dict], dict, dict]:
    """(corpus records, {query id: text}, qrels): the first N train queries' articles plus M random others."""
    from bench.retrieval import read_qrels, read_queries

    qrels_all = read_qrels(require(folder / "qrels" / "train.tsv", "news known-item set"))
    chosen = list(qrels_all)[:queries]
    qrels = {q: qrels_all[q] for q in chosen}
    texts = read_queries(folder / "queries.jsonl", chosen)
    wanted = {d for q in chosen for d in qrels[q]}
    corpus = read_records(folder / "corpus.jsonl")
    others = [r for r in corpus if str(r["_id"]) not in wanted]
    random.Random(seed).shuffle(others)
    return [r for r in corpus if str(r["_id"]) in wanted] + others[:distractors], texts, qrels


def build_and_score(encoder, records: list[dict], queries: dict, qrels: dict, point, tmp: Path, name: str) -> dict:
    """Ingest `records` at `point` with `encoder`, run every query in each mode; nDCG@10 per mode and ingest figures."""
    from archive.archive import open_archive
    from archive.config import Settings
    from archive.readers import read_paths
    from archive.write import ingest
    from bench.retrieval import MODES, benchmark, copies_of_stored

    corpus = tmp / f"{name}.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in records))
    settings = Settings(
        index_dir=tmp / f"{name}-{'-'.join(map(str, point))}",
        encoder=encoder.backend,
        rate_limit="off",
        **point_settings(point),
    )
    archive = open_archive(settings, encoder=encoder, create=True)
    try:
        report = ingest(archive, read_paths([corpus]))
        log(f"  {name} {point}: {report.added} articles, {report.chunks} chunks in {report.seconds:.0f}s")
        modes = benchmark(archive, queries, qrels, MODES, copies=copies_of_stored(archive, corpus))
    finally:
        archive.close()
    return {"chunks": report.chunks, "ingest_seconds": report.seconds, **{m.mode: round(m.ndcg10, 4) for m in modes}}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", default=DEFAULT_POINTS, help="CHUNK/OVERLAP/TITLE,... (default %(default)s)")
    parser.add_argument("--encoder", default="openvino", help="encoder that embeds the points (default %(default)s)")
    parser.add_argument("--count-only", action="store_true", help="only the tokens per article (no model run)")
    parser.add_argument("--news", type=Path, default=NEWS_DEV_SET, help="the news known-item set (BEIR folder)")
    parser.add_argument("--news-queries", type=int, default=300, help="news train queries (default %(default)s)")
    parser.add_argument("--news-distractors", type=int, default=1700)
    parser.add_argument("--skip-news", action="store_true")
    parser.add_argument(
        "--scifact-queries",
        type=int,
        help="a SciFact train subset: the first N judged queries (default: all, whole corpus)",
    )
    parser.add_argument("--scifact-distractors", type=int, default=300, help="with --scifact-queries: random others")
    parser.add_argument("--work-dir", type=Path, help="where the archives are built (default: a temp dir)")
    args = parser.parse_args(argv)
    points = [parse_point(p) for p in args.points.split(",") if p.strip()]

    def body(results: Results) -> None:
        from archive.encoders import load_encoder
        from bench.retrieval import read_qrels, read_queries

        with tempfile.TemporaryDirectory(prefix="bench-tokens-") as tmp_name:
            tmp = args.work_dir or Path(tmp_name)
            tmp.mkdir(parents=True, exist_ok=True)
            encoder = load_encoder("hash" if args.count_only else args.encoder, cache_dir=tmp / "encoders")
            if args.scifact_queries:
                from bench.encoders import scifact_subset

                scifact, sf_queries, sf_qrels = scifact_subset(
                    require(SCIFACT, "SciFact"), args.scifact_queries, args.scifact_distractors
                )
            else:
                scifact = read_records(require(SCIFACT / "corpus.jsonl", "SciFact"))
                sf_qrels = read_qrels(require(SCIFACT / "qrels" / "train.tsv", "SciFact train qrels"))
                sf_queries = read_queries(SCIFACT / "queries.jsonl", sf_qrels)
            news = None
            if not args.skip_news and (args.news / "corpus.jsonl").exists():
                news = news_subset(args.news, args.news_queries, args.news_distractors)
            rows = []
            for point in points:
                row: dict = {"point": "/".join(map(str, point))}
                row["scifact_tokens"], row["scifact_chunks"] = tokens_per_article(encoder, scifact, point)
                if news is not None:
                    row["news_tokens"], row["news_chunks"] = tokens_per_article(encoder, news[0], point)
                if not args.count_only:
                    started = time.perf_counter()
                    row["scifact"] = build_and_score(encoder, scifact, sf_queries, sf_qrels, point, tmp, "scifact")
                    if news is not None:
                        row["news"] = build_and_score(encoder, news[0], news[1], news[2], point, tmp, "news")
                    row["seconds"] = time.perf_counter() - started
                log(json.dumps(row))
                rows.append(row)
                sf, nw = row.get("scifact", {}), row.get("news", {})
                results.add(
                    "tokens",
                    f"{row['point']} tokens/article SciFact (news)",
                    f"{row['scifact_tokens']:.0f} ({row.get('news_tokens', 0):.0f})",
                    f"{row['scifact_chunks']:.2f} chunks/article",
                    "",
                    f"SciFact nDCG@10 k/s/h {sf.get('keyword', '-')}/{sf.get('semantic', '-')}/{sf.get('hybrid', '-')}; "
                    f"news {nw.get('keyword', '-')}/{nw.get('semantic', '-')}/{nw.get('hybrid', '-')}",
                )
            results.details["token_budget"] = {"encoder": encoder.backend, "points": rows}

    return run_suite("token-budget", body)


if __name__ == "__main__":
    sys.exit(main())
