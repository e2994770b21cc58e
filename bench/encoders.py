"""torch fp32 vs. onnx-int8 encoder: speed on the same texts, agreement, and retrieval quality on SciFact.

    .venv/bin/python -m bench.encoders            # speed + agreement (a few minutes)
    .venv/bin/python -m bench.encoders --ndcg     # + nDCG@10 on a SciFact train subset (~15 min)

Speed: the same Reuters chunk texts encoded by both, alternating halves (torch, int8,
torch, int8) so background load hits both alike; single-query latency (uncached) on the
same queries, alternating per query. Quality: a SciFact train subset (N judged queries,
their relevant documents plus M random distractors) is ingested once per encoder through
the real ingest (same chunking), then every query runs through `Searcher` (bench/retrieval.py).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

from bench.common import (
    SCIFACT,
    Results,
    log,
    p50,
    require,
    reuters_articles,
    run_suite,
    stopwatch,
)

NDCG_MAX_LOSS = 0.005  # the int8 encoder may become the default only within this nDCG@10 loss


def load_pair(cache_dir: Path, torch_enc=None):
    """(torch encoder, int8 encoder) of the configured model; int8 built into `cache_dir` if needed."""
    from archive.embedding import load_encoder

    with stopwatch() as built:
        int8 = load_encoder(backend="onnx-int8", cache_dir=cache_dir)
    log(f"encoders: int8 model ready in {built[0]:.1f}s ({int8.model_file})")
    return torch_enc or load_encoder(backend="torch"), int8


def reuters_texts(count: int, encoder) -> list[str]:
    """`count` embedding texts (title prefix + chunk) of Reuters stories, as ingest makes them."""
    from archive.config import Settings
    from archive.core import open_archive
    from bench.ingest import embedding_texts

    with tempfile.TemporaryDirectory(prefix="bench-texts-") as tmp:
        archive = open_archive(Settings(index_dir=Path(tmp)), encoder=encoder)
        texts = embedding_texts(archive, list(reuters_articles(0, count)))
        archive.close()
    return texts[:count]


def speed(results: Results, torch_enc, int8_enc, texts: list[str], queries: list[str]) -> dict:
    """Chunks/s of both encoders on the same texts, query latency, mean cosine; adds rows."""
    import numpy as np

    for enc in (torch_enc, int8_enc):
        enc.encode(["warm-up text for the kernels"] * 8)
    half = len(texts) // 2
    seconds = {"torch": 0.0, "onnx-int8": 0.0}
    vectors = {"torch": [], "onnx-int8": []}
    for part in (texts[:half], texts[half:]):
        for enc in (torch_enc, int8_enc):
            with stopwatch() as t:
                vectors[enc.backend].append(enc.encode(part))
            seconds[enc.backend] += t[0]
    cosine = float(np.mean((np.vstack(vectors["torch"]) * np.vstack(vectors["onnx-int8"])).sum(axis=1)))
    latency: dict[str, list[float]] = {"torch": [], "onnx-int8": []}
    for q in queries:
        for enc in (torch_enc, int8_enc):
            with stopwatch() as t:
                enc._encode_one(q)  # uncached: the model's own cost
            latency[enc.backend].append(t[0] * 1000)
    cps = {k: len(texts) / v for k, v in seconds.items()}
    q50 = {k: p50(v) for k, v in latency.items()}
    results.add("encoder", f"onnx-int8 chunks/s ({len(texts)} Reuters chunks)", cps["onnx-int8"],
                f"{cps['torch']:.3g} torch fp32", cps["onnx-int8"] / cps["torch"], "speed-up")
    results.add("encoder", f"onnx-int8 query encode p50 ms ({len(queries)} queries)", q50["onnx-int8"],
                f"{q50['torch']:.3g} torch fp32", q50["torch"] / q50["onnx-int8"], "speed-up")
    results.add("encoder", "int8 vs fp32 vectors: mean cosine", cosine, "", "", "test asserts >= 0.98")
    detail = {"texts": len(texts), "chunks_per_s": cps, "query_p50_ms": q50, "mean_cosine": cosine}
    results.details["encoder_speed"] = detail
    return detail


def scifact_subset(folder: Path, queries: int, distractors: int, seed: int = 7) -> tuple[list[dict], dict, dict]:
    """(corpus records, {query id: text}, qrels) of N judged train queries + their docs + M distractors."""
    from bench.retrieval import find_split, read_qrels, read_queries

    qrels_all = read_qrels(require(find_split(folder, "train"), "SciFact train qrels"))
    texts = read_queries(require(folder / "queries.jsonl", "SciFact queries"), qrels_all)
    chosen = sorted(texts, key=int)[:queries]
    qrels = {q: qrels_all[q] for q in chosen}
    relevant = {d for q in chosen for d in qrels[q]}
    corpus = [json.loads(line) for line in require(folder / "corpus.jsonl", "SciFact corpus").open(encoding="utf-8")]
    others = [r for r in corpus if str(r["_id"]) not in relevant]
    random.Random(seed).shuffle(others)
    records = [r for r in corpus if str(r["_id"]) in relevant] + others[:distractors]
    return records, {q: texts[q] for q in chosen}, qrels


def ndcg(results: Results, torch_enc, int8_enc, queries: int = 300, distractors: int = 2000) -> dict:
    """nDCG@10 (semantic, hybrid) with each encoder on the same SciFact subset; adds rows."""
    from archive.config import Settings
    from archive.core import open_archive
    from archive.indexer import ingest
    from archive.readers import read_paths
    from bench.retrieval import benchmark

    records, texts, qrels = scifact_subset(require(SCIFACT, "SciFact"), queries, distractors)
    detail: dict = {"queries": len(texts), "documents": len(records), "encoders": {}}
    with tempfile.TemporaryDirectory(prefix="bench-ndcg-") as tmp:
        halves = [Path(tmp) / "first.jsonl", Path(tmp) / "second.jsonl"]
        cut = len(records) // 2
        for path, part in zip(halves, (records[:cut], records[cut:])):
            path.write_text("".join(json.dumps(r) + "\n" for r in part))
        archives, seconds, chunks = {}, {}, {}
        for enc in (torch_enc, int8_enc):
            settings = Settings(index_dir=Path(tmp) / enc.backend, encoder=enc.backend, rate_limit="off")
            archives[enc.backend] = open_archive(settings, encoder=enc)
            seconds[enc.backend], chunks[enc.backend] = 0.0, 0
        # ABBA: torch, int8 on the first half; int8, torch on the second (load drift hits both alike).
        for half, order in zip(halves, ((torch_enc, int8_enc), (int8_enc, torch_enc))):
            for enc in order:
                log(f"ndcg: ingesting {half.name} of {len(records)} SciFact documents with {enc.backend} ...")
                report = ingest(archives[enc.backend], read_paths([half]))
                seconds[enc.backend] += report.seconds
                chunks[enc.backend] += report.chunks
        for enc in (torch_enc, int8_enc):
            archive = archives[enc.backend]
            modes = benchmark(archive, texts, qrels, ("semantic", "hybrid"))
            detail["encoders"][enc.backend] = {
                "ingest_chunks_per_s": chunks[enc.backend] / seconds[enc.backend], "chunks": chunks[enc.backend],
                **{m.mode: {"ndcg10": m.ndcg10, "recall100": m.recall100, "p50_ms": m.p50_ms} for m in modes}}
            archive.close()
    t, q = detail["encoders"]["torch"], detail["encoders"]["onnx-int8"]
    for mode in ("semantic", "hybrid"):
        delta = q[mode]["ndcg10"] - t[mode]["ndcg10"]
        results.add("encoder", f"SciFact train nDCG@10 {mode}, onnx-int8", q[mode]["ndcg10"],
                    f"{t[mode]['ndcg10']:.4f} torch", f"{delta:+.4f}",
                    f"{len(texts)} queries, {len(records)} docs; default only if loss <= {NDCG_MAX_LOSS}")
    results.add("encoder", "ingest chunks/s through archive ingest, onnx-int8", q["ingest_chunks_per_s"],
                f"{t['ingest_chunks_per_s']:.3g} torch", q["ingest_chunks_per_s"] / t["ingest_chunks_per_s"],
                f"SciFact abstracts, {q['chunks']} chunks")
    loss = max(t[m]["ndcg10"] - q[m]["ndcg10"] for m in ("semantic", "hybrid"))
    detail["max_loss"] = loss
    detail["int8_qualifies_as_default"] = loss <= NDCG_MAX_LOSS
    results.details["encoder_ndcg"] = detail
    return detail


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    from bench.latency import reuters_queries

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=512, help="Reuters chunks for the speed test")
    parser.add_argument("--ndcg", action="store_true", help="also measure nDCG@10 on a SciFact train subset")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--distractors", type=int, default=2000)
    args = parser.parse_args(argv)

    def body(results: Results) -> None:
        with tempfile.TemporaryDirectory(prefix="bench-encoders-") as tmp:
            torch_enc, int8_enc = load_pair(Path(tmp))
            speed(results, torch_enc, int8_enc, reuters_texts(args.texts, torch_enc), reuters_queries(40, seed=11))
            if args.ndcg:
                ndcg(results, torch_enc, int8_enc, args.queries, args.distractors)

    return run_suite("encoders", body)


if __name__ == "__main__":
    sys.exit(main())
