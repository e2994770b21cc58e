"""The compressed index of `bench.ann`: IVF coarse lists with PQ or SQ8 codes, then exact re-ranking.

One coarse quantiser (k-means on a sample, the build's slow part) is trained once and shared by
every code type, so the table compares codes, not k-means luck. For each code type and nprobe,
FAISS returns the top `max(RERANK)` candidates of each query (one query at a time, one thread,
as the archive searches); the first R of them are re-ranked by the exact vectors (R = 0: the
codes' own order) and recall@10 is taken against exact search. The re-rank's own cost is then
measured where the archive reads the exact vectors: SQL (`chunks.vector`, float16, through
`store.vector_rows.read_vectors`, on a SQLite file of the same vectors built under build/) and,
for comparison, an in-memory float16 matrix.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from bench.common import Results, log, p50, p95, stopwatch

NPROBE = (16, 32, 64, 128, 256)
RERANK = (0, 50, 100, 200)
CODES = ("PQ48", "PQ24", "SQ8")
TARGET = 0.97


def _ivf(quantizer, d: int, nlist: int, code: str):
    import faiss

    if code == "SQ8":
        return faiss.IndexIVFScalarQuantizer(
            quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
    return faiss.IndexIVFPQ(quantizer, d, nlist, int(code[2:]), 8, faiss.METRIC_INNER_PRODUCT)


def _recall(found: np.ndarray, truth: np.ndarray, k: int = 10) -> float:
    return float(
        np.mean([len(set(f[:k].tolist()) & set(t[:k].tolist())) / k for f, t in zip(found, truth, strict=False)])
    )


def _reranked(candidates: np.ndarray, base: np.ndarray, queries: np.ndarray, r: int, k: int = 10) -> np.ndarray:
    out = np.full((len(queries), k), -1, dtype=np.int64)
    for i, (cand, q) in enumerate(zip(candidates, queries, strict=False)):
        cand = cand[:r][cand[:r] >= 0]
        scores = base[cand] @ q
        out[i, : min(k, len(cand))] = cand[np.argsort(-scores, kind="stable")[:k]]
    return out


def sql_vectors(path: Path, base: np.ndarray):
    """A SQLite file holding `base` as the archive stores vectors (chunks.vector, float16), built once."""
    from sqlalchemy import create_engine, func, select

    from archive.store.models import ChunkRow
    from archive.store.vector_rows import to_blob

    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    table = ChunkRow.__table__
    table.create(engine, checkfirst=True)
    with engine.connect() as conn:
        have = conn.scalar(select(func.count()).select_from(table)) or 0
    if have != len(base):
        log(f"ann: writing {len(base):,} float16 vectors to {path} ...")
        with engine.begin() as conn:
            conn.execute(table.delete())
            for start in range(0, len(base), 50_000):
                part = base[start : start + 50_000]
                conn.execute(
                    table.insert(),
                    [
                        {"id": start + i, "article_id": start + i, "seq": 0, "text": "", "char_start": 0,
                         "char_end": 0, "vector": to_blob(v)}
                        for i, v in enumerate(part)
                    ],
                )  # fmt: skip
    return engine


def run_compressed(
    results: Results, detail: dict, base: np.ndarray, queries: np.ndarray, truth: np.ndarray, exact: float, args
) -> None:
    """Train the coarse lists once, then each code type: build time, bytes, recall@10 by nprobe and re-rank."""
    import faiss

    from archive.store.vector_rows import read_vectors
    from bench.ann import index_bytes, single_query_ms

    n, d = base.shape
    nlist = args.nlist
    ids = np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(11)
    if not args.codes:  # only the archive's own index (and its filters)
        engine = sql_vectors(args.sql_file, base)
        detail["types"]["compressed"] = {"archive": through_the_archive(results, engine, base, queries, truth, exact)}
        return
    sample = base[rng.choice(n, size=min(n, args.train_per_list * nlist), replace=False)]
    log(f"ann: k-means, {nlist} lists on {len(sample):,} vectors ...")
    with stopwatch() as trained:
        kmeans = faiss.Kmeans(d, nlist, niter=20, spherical=True, seed=3)
        kmeans.train(sample)
    quantizer = faiss.IndexFlatIP(d)
    quantizer.add(kmeans.centroids)
    out: dict = {"nlist": nlist, "kmeans_s": trained[0], "train_sample": len(sample), "codes": {}}
    results.add("ann", f"IVF coarse k-means s (nlist={nlist}, {len(sample):,} sample)", trained[0], "", "", "")
    deep = max(RERANK)
    for code in args.codes:
        index = _ivf(quantizer, d, nlist, code)
        log(f"ann: IVF{nlist},{code}: train codes + add {n:,} ...")
        with stopwatch() as built:
            index.train(sample)  # the quantiser is trained already: this trains the codes only
            index.add_with_ids(base, ids)
        size = index_bytes(index)
        sweep: dict = {}
        for nprobe in NPROBE:
            params = faiss.SearchParametersIVF()
            params.nprobe = nprobe
            times, found = single_query_ms(lambda q, p=params, ix=index: ix.search(q, deep, params=p)[1][0], queries)
            cand = np.vstack(found)
            row = {"p50_ms": p50(times), "p95_ms": p95(times)}
            for r in RERANK:
                row[f"recall10_r{r}"] = _recall(cand if r == 0 else _reranked(cand, base, queries, r), truth)
            sweep[nprobe] = row
        out["codes"][code] = {"build_s": built[0], "bytes": size, "sweep": sweep}
        results.add(
            "ann",
            f"IVF{nlist},{code}: codes train + add s",
            built[0],
            "",
            "",
            f"{size / n:.0f} B/vector in the index ({size / 2**20:.0f} MiB)",
        )
        for nprobe, row in sweep.items():
            cells = " / ".join(f"{row[f'recall10_r{r}']:.3f}" for r in RERANK)
            best = next((r for r in RERANK if r and row[f"recall10_r{r}"] >= TARGET), None)
            results.add(
                "ann",
                f"IVF{nlist},{code} nprobe={nprobe}: recall@10 re-ranking {'/'.join(map(str, RERANK))} | p50 ms",
                f"{cells} | {row['p50_ms']:.2f}",
                f"{exact:.1f} ms exact",
                exact / row["p50_ms"],
                f">= {TARGET} from R={best}" if best else "",
            )
        del index
    # The re-rank's own cost: read R exact vectors and score them.
    engine = sql_vectors(args.sql_file, base)
    half = base.astype(np.float16)
    cand = np.vstack([rng.choice(n, size=deep, replace=False) for _ in range(200)])
    cost: dict = {}
    for r in RERANK[1:]:
        sql_ms, mem_ms = [], []
        for row, q in zip(cand, queries[:200], strict=False):  # interleaved: SQL, memory, SQL, memory ...
            started = time.perf_counter()
            with engine.connect() as conn:
                _got, vectors = read_vectors(conn, row[:r].tolist())
            _ = vectors @ q
            sql_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            _ = half[np.sort(row[:r])].astype(np.float32) @ q
            mem_ms.append((time.perf_counter() - started) * 1000)
        cost[r] = {"sql_p50_ms": p50(sql_ms), "sql_p95_ms": p95(sql_ms), "memory_p50_ms": p50(mem_ms)}
        results.add(
            "ann",
            f"re-rank {r} candidates: SQL p50 / p95 ms",
            f"{p50(sql_ms):.2f} / {p95(sql_ms):.2f}",
            f"{p50(mem_ms):.3f} ms from float16 in memory",
            "",
            "chunks.vector by primary key (SQLite)",
        )
    out["rerank_cost"] = cost
    out["archive"] = through_the_archive(results, engine, base, queries, truth, exact)
    detail["types"]["compressed"] = out


def through_the_archive(results: Results, engine, base: np.ndarray, queries, truth, exact: float) -> dict:
    """`VectorIndex.build` of the archive's compressed kind from SQL's vectors (as `archive reindex --from-sql`
    builds it), then `VectorIndex.search` with its defaults: recall@10 and p50 with the re-rank read from SQL."""
    from archive.store.vector_rows import SqlVectors
    from archive.store.vectors import COMPRESSED, VectorIndex
    from archive.store.vectors.compressed import lists_for
    from bench.ann import index_bytes, recall, single_query_ms

    n = len(base)
    log(f"ann: VectorIndex.build(compressed) from SQL, {n:,} vectors, nlist {lists_for(n)} ...")
    import faiss

    saved = Path(str(engine.url.database) + f".compressed-{n}.faiss")  # a rerun reuses the build
    reused = saved.exists()
    with stopwatch() as built:
        if reused:
            vx = VectorIndex(base.shape[1], faiss.read_index(str(saved)), exact=SqlVectors(engine))
            vx.kind.loaded(vx.index)
        else:
            vx = VectorIndex.build(base.shape[1], COMPRESSED, np.arange(n, dtype=np.int64), SqlVectors(engine))
            faiss.write_index(vx.index, str(saved))
    size = index_bytes(vx.index)
    info = vx.kind.describe(vx.index)
    out: dict = {"build_s": built[0], "bytes": size, "reused": reused, **info}
    results.add(
        "ann",
        f"archive compressed index: build s from SQL ({info['code']}, nlist={info['nlist']})",
        built[0],
        "",
        "",
        f"{size / n:.0f} B/vector in memory ({size / 2**20:.0f} MiB); training + encoding + reading SQL",
    )
    # The archive's index with other nprobe / re-rank depths (re-ranked here from the vectors in memory).
    out["sweep"] = {}
    deep = max(RERANK)
    for nprobe in NPROBE:
        params = faiss.SearchParametersIVF()
        params.nprobe = nprobe
        times, found = single_query_ms(lambda q, p=params: vx.index.search(q, deep, params=p)[1][0], queries)
        cand = np.vstack(found)
        row = {"p50_ms": p50(times)}
        for r in RERANK:
            row[f"recall10_r{r}"] = _recall(cand if r == 0 else _reranked(cand, base, queries, r), truth)
        out["sweep"][nprobe] = row
        results.add(
            "ann",
            f"archive {info['code']} nlist={info['nlist']} nprobe={nprobe}: recall@10 re-ranking "
            f"{'/'.join(map(str, RERANK))} | codes p50 ms",
            " / ".join(f"{row[f'recall10_r{r}']:.3f}" for r in RERANK) + f" | {row['p50_ms']:.2f}",
            f"{exact:.1f} ms exact",
            exact / row["p50_ms"],
            "",
        )
    for k in (10, 300):
        times, found = single_query_ms(lambda q, k=k: np.array([i for i, _ in vx.search(q[0], k)]), queries[:500])
        got = recall(found, truth[:500], k)
        out[f"k{k}"] = {"recall": got, "p50_ms": p50(times), "p95_ms": p95(times)}
        results.add(
            "ann",
            f"VectorIndex.search (compressed, nprobe={info['nprobe']}, re-rank {info['rerank']}) k={k}: "
            f"recall@{k} / p50 / p95 ms",
            f"{got:.3f} / {p50(times):.2f} / {p95(times):.2f}",
            f"{exact:.1f} ms exact",
            exact / p50(times),
            "re-rank read from SQL",
        )
    out["factor"] = rerank_factor(results, vx, queries[:300], truth[:300])
    out["filters"] = filtered(results, vx, base, queries[:200])
    return out


def rerank_factor(results: Results, vx, queries: np.ndarray, truth: np.ndarray) -> dict:
    """k=300 (search's window) with 2k, 3k and 4k candidates re-ranked from SQL, interleaved per query."""
    from archive.store.vectors.compressed import MIN_RERANK, Compressed
    from bench.ann import recall

    kinds = {}
    for factor in (2, 3, 4):
        kind = Compressed()
        kind.fetch = lambda k, f=factor: max(k * f, MIN_RERANK)  # type: ignore[method-assign]
        kinds[factor] = kind
    times: dict[int, list[float]] = {f: [] for f in kinds}
    found: dict[int, list[np.ndarray]] = {f: [] for f in kinds}
    default = vx.kind
    try:
        for q in queries:
            for factor, kind in kinds.items():
                vx.kind = kind
                started = time.perf_counter()
                hits = vx.search(q, 300)
                times[factor].append((time.perf_counter() - started) * 1000)
                found[factor].append(np.array([i for i, _ in hits]))
    finally:
        vx.kind = default
    out = {}
    for factor in kinds:
        got = recall(found[factor], truth, 300)
        out[factor] = {"recall300": got, "p50_ms": p50(times[factor])}
        results.add(
            "ann",
            f"k=300 re-ranking {factor}k candidates from SQL: recall@300 / p50 ms",
            f"{got:.3f} / {p50(times[factor]):.2f}",
            "",
            "",
            "interleaved per query",
        )
    return out


def filtered(results: Results, vx, base: np.ndarray, queries: np.ndarray) -> dict:
    """Filtered search, the allowed ids given as an id array (what every query used to build from SQL: FAISS
    hashes it into an IDSelectorBatch per query) against a `Selection` bitmap built once; interleaved per query.
    Recall@10 against exact search among the allowed vectors."""
    from archive.store.vectors import Selection

    n = len(base)
    out: dict = {}
    rng = np.random.default_rng(5)
    for share in (0.5, 0.1, 0.01):
        allowed = np.sort(rng.choice(n, size=int(n * share), replace=False))
        selection = Selection.of(allowed, n)
        listed, bitmap, found = [], [], []
        for q in queries:
            started = time.perf_counter()
            vx.search(q, 10, allowed)
            listed.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            hits = vx.search(q, 10, selection)
            bitmap.append((time.perf_counter() - started) * 1000)
            truth = allowed[np.argsort(-(base[allowed] @ q))[:10]]
            found.append(len({i for i, _ in hits} & set(truth.tolist())) / 10)
        out[share] = {"ids_p50_ms": p50(listed), "bitmap_p50_ms": p50(bitmap), "recall10": float(np.mean(found))}
        results.add(
            "ann",
            f"filter allowing {share:.0%} ({len(allowed):,} ids), compressed k=10: bitmap p50 ms / recall@10",
            f"{p50(bitmap):.2f} / {np.mean(found):.3f}",
            f"{p50(listed):.2f} ms as an id array",
            p50(listed) / p50(bitmap),
            "interleaved per query",
        )
    return out


def held_out(results: Results, real: np.ndarray, n_queries: int = 500) -> dict:
    """The archive's compressed index on real vectors alone (no synthetic neighbours, which flatter IVF's lists):
    `n_queries` real chunk vectors held out as queries, the rest indexed; recall@10 against exact search."""
    from archive.store.vectors import COMPRESSED, ArrayVectors, VectorIndex
    from bench.ann import single_query_ms

    rng = np.random.default_rng(17)
    order = rng.permutation(len(real))
    queries, base = real[order[:n_queries]], real[order[n_queries:]]
    ids = np.arange(len(base), dtype=np.int64)
    with stopwatch() as built:
        vx = VectorIndex.build(base.shape[1], COMPRESSED, ids, ArrayVectors(ids, base))
    info = vx.kind.describe(vx.index)
    truth = np.argsort(-(queries @ base.T), axis=1)[:, :10]
    out: dict = {"vectors": len(base), "build_s": built[0], **info}
    for k in (10,):
        times, found = single_query_ms(lambda q, k=k: np.array([i for i, _ in vx.search(q[0], k)]), queries)
        out["recall10"] = _recall(found, truth)
        out["p50_ms"] = p50(times)
    import faiss

    for nprobe in (16, 32, 64, 128):
        params = faiss.SearchParametersIVF()
        params.nprobe = nprobe
        times, found = single_query_ms(lambda q, p=params: vx.index.search(q, 400, params=p)[1][0], queries)
        cand = np.vstack(found)
        cells = {r: _recall(_reranked(cand, base, queries, r), truth) for r in (50, 100, 200, 400)}
        out[f"nprobe{nprobe}"] = {"codes_p50_ms": p50(times), **{f"recall10_r{r}": v for r, v in cells.items()}}
        results.add(
            "ann",
            f"real vectors only, nprobe={nprobe}: recall@10 re-ranking 50/100/200/400 | codes p50 ms",
            " / ".join(f"{v:.3f}" for v in cells.values()) + f" | {p50(times):.2f}",
            "",
            "",
            "",
        )
    results.add(
        "ann",
        f"real vectors only ({len(base):,} indexed, {n_queries} held out): compressed recall@10 / p50 ms",
        f"{out['recall10']:.3f} / {out['p50_ms']:.2f}",
        "",
        "",
        f"{info['code']}, nlist={info['nlist']}, nprobe={info['nprobe']}, re-rank in memory",
    )
    return out
