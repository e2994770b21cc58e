"""The encoders side by side: speed on the same texts, agreement, and retrieval quality on SciFact.

    .venv/bin/python -m bench.encoders            # speed + agreement (a few minutes)
    .venv/bin/python -m bench.encoders --encoders onnx,openvino   # only these (the first is the reference)
    .venv/bin/python -m bench.encoders --ndcg     # + nDCG@10 on a SciFact train subset (~15 min)

Speed: the same Reuters chunk texts encoded by every encoder in rounds of a quarter each, the
order reversed every other round (ABBA), so background load hits all alike; single-query
latency (uncached) on the same queries, in turn per query. The openvino encoder answers one
query with onnxruntime; its row "OpenVINO itself" times a batch of one through OpenVINO. Quality: a SciFact train subset (N judged queries,
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
ALL_ENCODERS = ("torch", "onnx", "openvino", "onnx-int8")
# What the tests assert of each encoder's vectors against torch's (tests/test_encoders_*.py).
COSINE_FLOOR = {
    "onnx": "test_encoders_onnx.py: per text > 0.99999",
    "openvino": "test_encoders_openvino.py: per text >= 0.9999",
    "onnx-int8": "test_encoders_onnx.py: mean >= 0.98",
}


def load_all(cache_dir: Path, loaded=None, names: tuple[str, ...] = ALL_ENCODERS) -> dict:
    """{backend: encoder} for `names` (in that order); ONNX models exported into `cache_dir` if needed.

    `loaded` (an encoder the caller already has) is reused for its backend.
    """
    from archive.encoders import load_encoder

    out = {}
    with stopwatch() as built:
        for backend in names:
            if loaded is not None and loaded.backend == backend:
                out[backend] = loaded
            elif backend != "torch":
                out[backend] = load_encoder(backend, cache_dir=cache_dir)
    log(f"encoders: exported models ready in {built[0]:.1f}s ({cache_dir})")
    if "torch" in names:
        out["torch"] = loaded if loaded is not None and loaded.backend == "torch" else load_encoder("torch")
    return {k: out[k] for k in names}


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


def speed(results: Results, encoders: dict, texts: list[str], queries: list[str], rounds: int = 4) -> dict:
    """Chunks/s of every encoder on the same texts, one-query latency and cosine, each against the first.

    The first encoder (torch by default) is the reference of the ratios and cosines.
    """
    import numpy as np

    reference = next(iter(encoders))
    for enc in encoders.values():
        enc.encode(["warm-up text for the kernels"] * 8)
    seconds = dict.fromkeys(encoders, 0.0)
    vectors = {k: np.zeros((len(texts), 384), dtype=np.float32) for k in encoders}
    for r in range(rounds):  # a share of the texts each round, ABBA order: load drift hits every encoder alike
        rows = np.arange(r, len(texts), rounds)
        part = [texts[i] for i in rows]
        for backend in list(encoders) if r % 2 == 0 else list(reversed(encoders)):
            with stopwatch() as t:
                vectors[backend][rows] = encoders[backend].encode(part)
            seconds[backend] += t[0]
    cosines = {k: (v * vectors[reference]).sum(axis=1) for k, v in vectors.items()}
    timed = {k: enc._encode_one for k, enc in encoders.items()}  # uncached: the model's own cost
    if "openvino" in encoders:  # one query through OpenVINO itself (the encoder answers it with onnxruntime)
        timed["openvino (OpenVINO itself)"] = lambda q: encoders["openvino"]._encode_batch([q])[0]
    for f in timed.values():
        f("warm-up query")
    latency: dict[str, list[float]] = {k: [] for k in timed}
    for q in queries:
        for name, f in timed.items():
            with stopwatch() as t:
                f(q)
            latency[name].append(t[0] * 1000)
    cps = {k: len(texts) / v for k, v in seconds.items()}
    q50 = {k: p50(v) for k, v in latency.items()}
    sizes = {k: f"batch {getattr(e, 'batch_size', '?')}" for k, e in encoders.items()}
    if "openvino" in encoders:
        ov = encoders["openvino"]
        sizes["openvino"] += f" (model batches of {ov.model_batch}), {ov.threads} threads, {ov.precision}"
    for backend in (k for k in encoders if k != reference):
        results.add(
            "encoder",
            f"{backend} chunks/s ({len(texts)} Reuters chunks)",
            cps[backend],
            f"{cps[reference]:.3g} {reference}",
            cps[backend] / cps[reference],
            f"speed-up; {sizes[backend]}",
        )
    for name in (k for k in timed if k != reference):
        results.add(
            "encoder",
            f"{name} query encode p50 ms ({len(queries)} queries)",
            q50[name],
            f"{q50[reference]:.3g} {reference}",
            q50[reference] / q50[name],
            "speed-up",
        )
    for backend in (k for k in encoders if k != reference):
        results.add(
            "encoder",
            f"{backend} vs {reference} vectors: mean (min) cosine",
            f"{cosines[backend].mean():.6f} ({cosines[backend].min():.6f})",
            "",
            "",
            COSINE_FLOOR.get(backend, "") if reference == "torch" else "",
        )
    if {"onnx", "openvino"} <= encoders.keys() and reference != "onnx":
        results.add(
            "encoder",
            "openvino vs onnx chunks/s (same model file)",
            cps["openvino"],
            f"{cps['onnx']:.3g} onnx",
            cps["openvino"] / cps["onnx"],
            "speed-up",
        )
    detail = {
        "texts": len(texts),
        "reference": reference,
        "chunks_per_s": cps,
        "query_p50_ms": q50,
        "mean_cosine": {k: float(v.mean()) for k, v in cosines.items()},
        "min_cosine": {k: float(v.min()) for k, v in cosines.items()},
        "settings": sizes,
    }
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
    from bench.retrieval import benchmark, copies_of_stored

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
            modes = benchmark(archive, texts, qrels, ("semantic", "hybrid"), copies=copies_of_stored(archive, *halves))
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
    parser.add_argument(
        "--encoders",
        default=",".join(ALL_ENCODERS),
        help="comma-separated encoders to compare; the first is the reference (default: %(default)s)",
    )
    parser.add_argument("--ndcg", action="store_true", help="also measure nDCG@10 on a SciFact train subset")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--distractors", type=int, default=2000)
    args = parser.parse_args(argv)

    def body(results: Results) -> None:
        with tempfile.TemporaryDirectory(prefix="bench-encoders-") as tmp:
            names = tuple(n.strip() for n in args.encoders.split(",") if n.strip())
            if args.ndcg:
                names += tuple(n for n in ("torch", "onnx-int8") if n not in names)
            encoders = load_all(Path(tmp), names=names)
            texts = reuters_texts(args.texts, next(iter(encoders.values())))
            speed(results, encoders, texts, reuters_queries(40, seed=11))
            if args.ndcg:
                ndcg(results, encoders["torch"], encoders["onnx-int8"], args.queries, args.distractors)

    return run_suite("encoders", body)


if __name__ == "__main__":
    sys.exit(main())
