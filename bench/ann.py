"""Approximate vs. exact vector search on >= 1,000,000 vectors shaped like the archive's.

    .venv/bin/python -m bench.ann                       # 1,000,000 vectors (HNSW build: tens of minutes)
    .venv/bin/python -m bench.ann --vectors 200000      # quicker look
    .venv/bin/python -m bench.ann --types compressed    # IVF-PQ / SQ8 with exact re-ranking (bench/ann_compressed.py)

The base set starts from the real chunk vectors of the Reuters archive (read back from
its vectors.faiss) and is filled up with synthetic neighbours of them: each is a real
vector pulled part of the way towards another real vector plus a little Gaussian noise,
then re-normalised, so the set keeps the real vectors' clustered shape (uniformly random
vectors have no neighbourhoods and make every ANN method look bad). Queries are fresh
vectors made the same way (not in the base). Ground truth is exact inner-product search.
Latency is one query at a time on one thread, as `VectorIndex.search` runs it; the exact
reference takes the faster of one and two threads.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import (
    DEFAULT_REUTERS_INDEX,
    PROJECT_ROOT,
    Results,
    Skip,
    log,
    p50,
    p95,
    require,
    run_suite,
    stopwatch,
)

EF_SEARCH = (16, 32, 64, 128, 256)
NPROBE = (8, 16, 32, 64, 128)
TARGET_RECALL = 0.95
TARGET_SPEEDUP = 10.0


def real_vectors(index_dir: Path) -> np.ndarray:
    """All vectors of an archive's FAISS index, read back (n, d) float32."""
    import faiss

    index = faiss.read_index(str(require(index_dir / "vectors.faiss", "the Reuters archive's vectors")))
    inner = faiss.downcast_index(index.index) if hasattr(index, "index") else index
    return inner.reconstruct_n(0, inner.ntotal).astype(np.float32)


def neighbours_of(real: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n synthetic unit vectors near the real ones (see the module docstring)."""
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        source = real[rng.integers(len(real), size=m)]
        other = real[rng.integers(len(real), size=m)]
        pull = rng.uniform(0.0, 0.35, size=(m, 1)).astype(np.float32)
        sigma = rng.uniform(0.01, 0.04, size=(m, 1)).astype(np.float32)
        block = (1 - pull) * source + pull * other + sigma * rng.standard_normal((m, real.shape[1]), dtype=np.float32)
        out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def index_bytes(index) -> int:
    """Serialised size of a FAISS index (what it holds in RAM, near enough), counted without a copy."""
    import faiss

    total = [0]

    def count(chunk: bytes) -> int:
        total[0] += len(chunk)
        return len(chunk)

    faiss.write_index(index, faiss.PyCallbackIOWriter(count))
    return total[0]


def single_query_ms(search, queries: np.ndarray, threads: int = 1) -> tuple[list[float], list[np.ndarray]]:
    """Per-query latency (ms) and result ids, one query at a time."""
    import faiss

    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    times, ids = [], []
    try:
        for q in queries:
            started = time.perf_counter()
            found = search(q.reshape(1, -1))
            times.append((time.perf_counter() - started) * 1000)
            ids.append(found)
    finally:
        faiss.omp_set_num_threads(previous)
    return times, ids


def recall(found: list[np.ndarray], truth: np.ndarray, k: int) -> float:
    """Mean share of the exact top-k found in the approximate top-k."""
    return float(
        np.mean([len(set(f[:k].tolist()) & set(t[:k].tolist())) / k for f, t in zip(found, truth, strict=False)])
    )


def run(
    results: Results,
    n: int,
    n_queries: int,
    reuters_index: Path,
    kinds: tuple[str, ...],
    ef_construction: int,
    nlist: int,
    seed: int = 7,
    options: argparse.Namespace | None = None,
) -> dict:
    """Build the base set, exact ground truth, then each ANN type; adds rows."""
    import faiss

    from archive.store import vectors as vx

    rng = np.random.default_rng(seed)
    real = real_vectors(reuters_index)
    if len(real) < 1000:
        raise Skip(f"only {len(real)} real vectors in {reuters_index}; the ANN benchmark needs the Reuters archive")
    d = real.shape[1]
    if "real" in kinds:  # the compressed index on real vectors alone, then nothing else
        from bench.ann_compressed import held_out

        results.details["ann"] = held_out(results, real)
        return results.details["ann"]
    log(f"ann: {len(real):,} real vectors + {n - len(real):,} synthetic neighbours, {n_queries} queries ...")
    base = np.empty((n, d), dtype=np.float32)
    kept = min(n, len(real))
    base[:kept] = real[:kept]
    if n > kept:
        base[kept:] = neighbours_of(real, n - kept, rng)
    queries = neighbours_of(real, n_queries, np.random.default_rng(seed + 1))
    ids = np.arange(n, dtype=np.int64)
    detail: dict = {"vectors": n, "real": int(min(len(real), n)), "queries": n_queries, "dim": d, "types": {}}

    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(d))
    flat.add_with_ids(base, ids)
    with stopwatch() as gt:
        _, truth = flat.search(queries, 300)  # batched (BLAS): only to get the ground truth
    top1 = float(np.mean(np.sum(queries * base[truth[:, 0]], axis=1)))
    top10 = float(np.mean(np.sum(queries * base[truth[:, 9]], axis=1)))
    detail["truth_seconds"] = gt[0]
    # How hard the neighbourhoods are: the same statistic for real vectors among real ones.
    real_flat = faiss.IndexFlatIP(d)
    real_flat.add(real)
    probe = real[np.random.default_rng(seed + 3).choice(len(real), size=min(500, len(real)), replace=False)]
    real_scores, _ = real_flat.search(probe, 11)  # column 0 is the vector itself
    real_top1, real_top10 = float(real_scores[:, 1].mean()), float(real_scores[:, 10].mean())
    detail["cosine_top1_top10"] = {"synthetic_queries": (top1, top10), "real_among_real": (real_top1, real_top10)}
    results.add(
        "ann",
        "neighbourhoods: mean cosine of 1st / 10th neighbour",
        f"{top1:.3f} / {top10:.3f}",
        f"{real_top1:.3f} / {real_top10:.3f} real among real",
        "",
        "queries vs base set",
    )
    sample = queries[:200]
    exact_ms = {}
    for threads in (1, 2) if faiss.omp_get_max_threads() > 1 else (1,):
        times, _ = single_query_ms(lambda q, index=flat: index.search(q, 10)[1][0], sample, threads)
        exact_ms[threads] = p50(times)
    exact = min(exact_ms.values())
    detail["types"]["flat"] = {"p50_ms_by_threads": exact_ms, "bytes": index_bytes(flat)}
    results.add(
        "ann",
        f"exact flat search p50 ms, k=10 ({n:,} vectors)",
        exact,
        "",
        "",
        ", ".join(f"{t} thread(s) {ms:.0f} ms" for t, ms in exact_ms.items()) + "; "
        f"{detail['types']['flat']['bytes'] / n:.0f} B/vector",
    )
    del flat

    if "hnsw" in kinds:
        log(f"ann: building HNSW (M={vx.HNSW_M}, efConstruction={ef_construction}) on {n:,} vectors ...")
        vx_index = vx.VectorIndex(d, index_type=vx.HNSW)
        faiss.downcast_index(vx_index.index.index).hnsw.efConstruction = ef_construction
        with stopwatch() as built:
            vx_index.add(ids, base)
        hnsw = vx_index.index
        sweep = {}
        for ef in EF_SEARCH:
            params = faiss.SearchParametersHNSW()
            params.efSearch = max(ef, 10)
            times, found = single_query_ms(lambda q, p=params: hnsw.search(q, 10, params=p)[1][0], queries)
            sweep[ef] = {"recall10": recall(found, truth, 10), "p50_ms": p50(times), "p95_ms": p95(times)}
        times, found = single_query_ms(lambda q: np.array([i for i, _ in vx_index.search(q[0], 300)]), queries[:200])
        k300 = {"recall300": recall(found, truth[:200], 300), "p50_ms": p50(times)}
        times, found = single_query_ms(lambda q: np.array([i for i, _ in vx_index.search(q[0], 10)]), queries)
        default = {"ef": vx.HNSW_EF_SEARCH, "recall10": recall(found, truth, 10), "p50_ms": p50(times)}
        size = index_bytes(hnsw)
        detail["types"]["hnsw"] = {
            "build_s": built[0],
            "sweep": sweep,
            "k300": k300,
            "default": default,
            "bytes": size,
            "M": vx.HNSW_M,
            "ef_construction": ef_construction,
        }
        results.add(
            "ann",
            f"HNSW build s (M={vx.HNSW_M}, efC={ef_construction})",
            built[0],
            "",
            "",
            f"{size / n:.0f} B/vector, {size / 2**30:.2f} GiB",
        )
        for ef, m in sweep.items():
            mark = " <- archive default" if ef == vx.HNSW_EF_SEARCH else ""
            ok = m["recall10"] >= TARGET_RECALL and exact / m["p50_ms"] >= TARGET_SPEEDUP
            results.add(
                "ann",
                f"HNSW efSearch={ef}: recall@10 / p50 ms",
                f"{m['recall10']:.3f} / {m['p50_ms']:.2f}",
                f"{exact:.1f} ms exact",
                exact / m["p50_ms"],
                ("meets target" if ok else "") + mark,
            )
        results.add(
            "ann",
            "VectorIndex.search (HNSW, default ef) k=10: recall / p50 ms",
            f"{default['recall10']:.3f} / {default['p50_ms']:.2f}",
            f"{exact:.1f} ms exact",
            exact / default["p50_ms"],
            "through the archive's wrapper",
        )
        results.add(
            "ann",
            "VectorIndex.search k=300 (search's candidate window): recall@300 / p50 ms",
            f"{k300['recall300']:.3f} / {k300['p50_ms']:.2f}",
            "",
            "",
            "efSearch = 2k",
        )
        del vx_index, hnsw

    if "ivf" in kinds:
        log(f"ann: training IVF (nlist={nlist}) ...")
        quantizer = faiss.IndexFlatIP(d)
        ivf = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        train = base[np.random.default_rng(seed + 2).choice(n, size=min(n, 64 * nlist), replace=False)]
        with stopwatch() as built:
            ivf.train(train)
            ivf.add_with_ids(base, ids)
        sweep = {}
        for nprobe in NPROBE:
            params = faiss.SearchParametersIVF()
            params.nprobe = nprobe
            times, found = single_query_ms(lambda q, p=params: ivf.search(q, 10, params=p)[1][0], queries)
            sweep[nprobe] = {"recall10": recall(found, truth, 10), "p50_ms": p50(times), "p95_ms": p95(times)}
        size = index_bytes(ivf)
        detail["types"]["ivf"] = {"build_s": built[0], "sweep": sweep, "bytes": size, "nlist": nlist}
        results.add(
            "ann",
            f"IVF-Flat train+add s (nlist={nlist})",
            built[0],
            "",
            "",
            f"{size / n:.0f} B/vector, {size / 2**30:.2f} GiB",
        )
        for nprobe, m in sweep.items():
            ok = m["recall10"] >= TARGET_RECALL and exact / m["p50_ms"] >= TARGET_SPEEDUP
            results.add(
                "ann",
                f"IVF nprobe={nprobe}: recall@10 / p50 ms",
                f"{m['recall10']:.3f} / {m['p50_ms']:.2f}",
                f"{exact:.1f} ms exact",
                exact / m["p50_ms"],
                "meets target" if ok else "",
            )
    if "compressed" in kinds:
        from bench.ann_compressed import run_compressed

        run_compressed(results, detail, base, queries, truth, exact, options)
    results.details["ann"] = detail
    return detail


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--reuters-index", type=Path, default=DEFAULT_REUTERS_INDEX)
    parser.add_argument(
        "--types", default="hnsw,ivf", help="hnsw, ivf, compressed; real: compressed on real vectors alone"
    )
    parser.add_argument(
        "--codes", default="PQ48,PQ24,SQ8", help="compressed: code types (PQ<M>, SQ8; none: only the archive's index)"
    )
    parser.add_argument("--train-per-list", type=int, default=64, help="compressed: k-means sample per list")
    parser.add_argument("--sql-file", type=Path, default=PROJECT_ROOT / "build" / "ann-vectors.db")
    parser.add_argument("--ef-construction", type=int, default=80)
    parser.add_argument("--nlist", type=int, default=4096)
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="FAISS threads for building (0: FAISS's default; "
        "1 on a loaded machine, where two threads wait on each other)",
    )
    args = parser.parse_args(argv)
    if args.threads:
        import faiss

        faiss.omp_set_num_threads(args.threads)
    args.codes = tuple(c for c in args.codes.split(",") if c and c != "none")
    return run_suite(
        "ann",
        lambda results: run(
            results,
            args.vectors,
            args.queries,
            args.reuters_index,
            tuple(args.types.split(",")),
            args.ef_construction,
            args.nlist,
            options=args,
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
