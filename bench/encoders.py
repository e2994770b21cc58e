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

from bench.common import SCIFACT, Results, log, p50, require, reuters_articles, run_suite, stopwatch

NDCG_MAX_LOSS = 0.005  # the int8 encoder may become the default only within this nDCG@10 loss


def load_all(cache_dir: Path, loaded=None) -> dict:
    """{backend: encoder} for torch, onnx (fp32) and onnx-int8; ONNX models exported into `cache_dir` if needed.

    `loaded` (an encoder the caller already has) is reused for its backend.
    """
    from archive.encoders import load_encoder

    out = {loaded.backend: loaded} if loaded is not None else {}
    with stopwatch() as built:
        for backend in ("onnx", "onnx-int8"):
            out.setdefault(backend, load_encoder(backend, cache_dir=cache_dir))
    log(f"encoders: ONNX models ready in {built[0]:.1f}s ({out['onnx-int8'].model_file.parent})")
    out.setdefault("torch", load_encoder("torch"))
    return out


def reuters_texts(count: int, encoder) -> list[str]:
    """`count` embedding texts (title prefix + chunk) of Reuters stories, as ingest makes them."""
    from archive.archive import open_archive
    from archive.config import Settings
    from bench.ingest import embedding_texts

    with tempfile.TemporaryDirectory(prefix="bench-texts-") as tmp:
        archive = open_archive(Settings(index_dir=Path(tmp)), encoder=encoder, create=True)
        texts = embedding_texts(archive, list(reuters_articles(0, count)))
        archive.close()
    return texts[:count]


def speed(results: Results, encoders: dict, texts: list[str], queries: list[str]) -> dict:
    """Chunks/s of every encoder on the same texts, one-query latency and mean cosine, each against torch."""
    import numpy as np

    for enc in encoders.values():
        enc.encode(["warm-up text for the kernels"] * 8)
    half = len(texts) // 2
    seconds = dict.fromkeys(encoders, 0.0)
    vectors: dict[str, list] = {k: [] for k in encoders}
    for part in (texts[:half], texts[half:]):  # halves in turn: load drift hits every encoder alike
        for backend, enc in encoders.items():
            with stopwatch() as t:
                vectors[backend].append(enc.encode(part))
            seconds[backend] += t[0]
    reference = np.vstack(vectors["torch"])
    cosine = {k: float(np.mean((np.vstack(v) * reference).sum(axis=1))) for k, v in vectors.items()}
    latency: dict[str, list[float]] = {k: [] for k in encoders}
    for q in queries:
        for backend, enc in encoders.items():
            with stopwatch() as t:
                enc._encode_one(q)  # uncached: the model's own cost
            latency[backend].append(t[0] * 1000)
    cps = {k: len(texts) / v for k, v in seconds.items()}
    q50 = {k: p50(v) for k, v in latency.items()}
    for backend in (k for k in encoders if k != "torch"):
        results.add(
            "encoder",
            f"{backend} chunks/s ({len(texts)} Reuters chunks)",
            cps[backend],
            f"{cps['torch']:.3g} torch fp32",
            cps[backend] / cps["torch"],
            "speed-up",
        )
        results.add(
            "encoder",
            f"{backend} query encode p50 ms ({len(queries)} queries)",
            q50[backend],
            f"{q50['torch']:.3g} torch fp32",
            q50["torch"] / q50[backend],
            "speed-up",
        )
        floor = ">= 0.99999" if backend == "onnx" else ">= 0.98"
        results.add(
            "encoder",
            f"{backend} vs torch vectors: mean cosine",
            cosine[backend],
            "",
            "",
            f"tests/test_encoders_onnx.py asserts {floor}",
        )
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
    from archive.archive import open_archive
    from archive.config import Settings
    from archive.readers import read_paths
    from archive.write import ingest
    from bench.retrieval import benchmark

    records, texts, qrels = scifact_subset(require(SCIFACT, "SciFact"), queries, distractors)
    detail: dict = {"queries": len(texts), "documents": len(records), "encoders": {}}
    with tempfile.TemporaryDirectory(prefix="bench-ndcg-") as tmp:
        halves = [Path(tmp) / "first.jsonl", Path(tmp) / "second.jsonl"]
        cut = len(records) // 2
        for path, part in zip(halves, (records[:cut], records[cut:]), strict=False):
            path.write_text("".join(json.dumps(r) + "\n" for r in part))
        archives, seconds, chunks = {}, {}, {}
        for enc in (torch_enc, int8_enc):
            settings = Settings(index_dir=Path(tmp) / enc.backend, encoder=enc.backend, rate_limit="off")
            archives[enc.backend] = open_archive(settings, encoder=enc, create=True)
            seconds[enc.backend], chunks[enc.backend] = 0.0, 0
        # ABBA: torch, int8 on the first half; int8, torch on the second (load drift hits both alike).
        for half, order in zip(halves, ((torch_enc, int8_enc), (int8_enc, torch_enc)), strict=False):
            for enc in order:
                log(f"ndcg: ingesting {half.name} of {len(records)} SciFact documents with {enc.backend} ...")
                report = ingest(archives[enc.backend], read_paths([half]))
                seconds[enc.backend] += report.seconds
                chunks[enc.backend] += report.chunks
        for enc in (torch_enc, int8_enc):
            archive = archives[enc.backend]
            modes = benchmark(archive, texts, qrels, ("semantic", "hybrid"))
            detail["encoders"][enc.backend] = {
                "ingest_chunks_per_s": chunks[enc.backend] / seconds[enc.backend],
                "chunks": chunks[enc.backend],
                **{m.mode: {"ndcg10": m.ndcg10, "recall100": m.recall100, "p50_ms": m.p50_ms} for m in modes},
            }
            archive.close()
    t, q = detail["encoders"]["torch"], detail["encoders"]["onnx-int8"]
    for mode in ("semantic", "hybrid"):
        delta = q[mode]["ndcg10"] - t[mode]["ndcg10"]
        results.add(
            "encoder",
            f"SciFact train nDCG@10 {mode}, onnx-int8",
            q[mode]["ndcg10"],
            f"{t[mode]['ndcg10']:.4f} torch",
            f"{delta:+.4f}",
            f"{len(texts)} queries, {len(records)} docs; default only if loss <= {NDCG_MAX_LOSS}",
        )
    results.add(
        "encoder",
        "ingest chunks/s through archive ingest, onnx-int8",
        q["ingest_chunks_per_s"],
        f"{t['ingest_chunks_per_s']:.3g} torch",
        q["ingest_chunks_per_s"] / t["ingest_chunks_per_s"],
        f"SciFact abstracts, {q['chunks']} chunks",
    )
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
            encoders = load_all(Path(tmp))
            speed(results, encoders, reuters_texts(args.texts, encoders["torch"]), reuters_queries(40, seed=11))
            if args.ndcg:
                ndcg(results, encoders["torch"], encoders["onnx-int8"], args.queries, args.distractors)

    return run_suite("encoders", body)


if __name__ == "__main__":
    sys.exit(main())
