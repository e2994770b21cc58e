"""The compressed index (IVF-PQ re-ranked with exact vectors) and filters as bitmaps: recall against exact
search, removal and updates, saving and loading, the write path, and selections equal to id lists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from archive.store.vectors import (
    COMPRESSED,
    FLAT,
    HNSW,
    ArrayVectors,
    Manifest,
    Selection,
    VectorIndex,
    kind_for,
    read_manifest,
)
from archive.store.vectors.compressed import MIN_VECTORS

DIM = 32
N = 4000


def clustered(n: int, seed: int = 0, centres: int = 60) -> np.ndarray:
    """n unit vectors around `centres` random directions (embeddings have neighbourhoods; uniform noise has none)."""
    rng = np.random.default_rng(seed)
    middle = rng.normal(size=(centres, DIM)).astype(np.float32)
    x = middle[rng.integers(centres, size=n)] + 0.45 * rng.normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """FAISS training on one OpenMP thread: on a shared 2-core machine two threads wait on each other (4x slower)."""
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(threads)


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return clustered(N)


def compressed_index(data: np.ndarray, ids: np.ndarray | None = None) -> VectorIndex:
    ids = np.arange(10, 10 + len(data)) if ids is None else ids
    v = VectorIndex(DIM, exact=ArrayVectors(ids, data))
    v.add(ids, data)
    assert v.fit_size(threshold=100, compress_above=len(data) - 1) and v.index_type == COMPRESSED
    return v


def test_the_kind_follows_size_with_hysteresis():
    assert kind_for(FLAT, 50, 100, 1000) == FLAT
    assert kind_for(FLAT, 500, 100, 1000) == HNSW
    assert kind_for(HNSW, 5000, 100, 1000) == COMPRESSED
    assert kind_for(COMPRESSED, 800, 100, 1000) == COMPRESSED  # not below half the threshold yet
    assert kind_for(COMPRESSED, 400, 100, 1000) == HNSW
    assert kind_for(HNSW, 5000, 100, None) == HNSW  # no compression without the setting
    assert kind_for(HNSW, MIN_VECTORS - 1, 100, 10) == HNSW  # too few to train on


def test_recall_against_exact_search_with_re_ranking(data: np.ndarray):
    v = compressed_index(data)
    exact = VectorIndex(DIM)
    exact.add(np.arange(10, 10 + N), data)
    rng = np.random.default_rng(1)
    queries = data[rng.choice(N, size=100)] + 0.2 * rng.normal(size=(100, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    found = truth = 0
    for q in queries:
        hits = v.search(q, 10)
        best = exact.search(q, 10)
        found += len({i for i, _ in hits} & {i for i, _ in best})
        truth += len(best)
        # Re-ranked: the scores are the exact cosines, best first.
        ids = np.array([i for i, _ in hits])
        np.testing.assert_allclose([s for _, s in hits], data[ids - 10] @ q, rtol=1e-5)
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert found / truth >= 0.95
    # A compressed index holds ~dim/8 bytes of code per vector, not the vectors.
    assert v.index.code_size == DIM // 8


def test_removal_update_and_filters(data: np.ndarray):
    v = compressed_index(data)
    assert v.remove([10, 11, 99_999]) == 2 and v.count == N - 2
    assert 10 not in v.ids() and all(i != 10 for i, _ in v.search(data[0], 20))
    # An update: the chunk comes back with another vector, and is found once, by the new one.
    v.exact = ArrayVectors(np.arange(10, 10 + N), np.vstack([data[5:6], data[1:]]))
    v.add([10], data[5:6])
    hits = v.search(data[5], 5)
    assert [i for i, _ in hits].count(10) == 1 and {10, 15} <= {i for i, _ in hits[:2]}
    # Narrow filters are answered exactly among their ids, wide ones through the lists.
    narrow = np.array([11, 12, 13, 500])
    assert next(i for i, _ in v.search(data[2], 10, narrow)) == 12 and 11 not in dict(v.search(data[1], 10, narrow))
    wide = Selection.of(np.arange(10, 10 + N, 2))
    hits = v.search(data[400], 10, wide)
    assert hits[0][0] == 410 and all(i % 2 == 0 for i, _ in hits)
    with pytest.raises(RuntimeError):
        VectorIndex(DIM, index=v.index).vectors([20])  # codes only: no exact source, no vectors


def test_saved_and_loaded_with_its_exact_source(data: np.ndarray, tmp_path: Path):
    v = compressed_index(data)
    v.remove([12])
    v.save(tmp_path, Manifest(model="m", model_sha256=None, dim=DIM))
    manifest = read_manifest(tmp_path)
    assert manifest.index_type == COMPRESSED and manifest.count == N - 1
    assert manifest.extra["index"]["code"] == f"PQ{DIM // 8}x8" and manifest.extra["index"]["nlist"] >= 16
    for mapped in (False, True):
        loaded = VectorIndex.load(tmp_path, DIM, mapped=mapped, exact=v.exact)
        assert loaded.index_type == COMPRESSED and loaded.count == N - 1 and 12 not in loaded.ids()
        assert loaded.search(data[7], 10) == v.search(data[7], 10)


@pytest.mark.parametrize("kind", [FLAT, HNSW, COMPRESSED])
def test_a_selection_finds_what_the_id_list_finds(data: np.ndarray, kind: str):
    v = compressed_index(data) if kind == COMPRESSED else VectorIndex(DIM, index_type=kind)
    if kind != COMPRESSED:
        v.add(np.arange(10, 10 + N), data)
    v.remove([14])
    rng = np.random.default_rng(3)
    for size in (5, 300, 2500):
        allowed = np.sort(rng.choice(np.arange(10, 10 + N), size=size, replace=False))
        selection = Selection.of(allowed, top=20_000)
        # The same ids as a bitmap only (what a wide filter keeps), and grown in two steps as the cache grows it.
        bitmap = Selection(selection.bitmap, selection.count)
        grown = Selection.of(allowed[allowed < 2000]).extended(allowed[allowed >= 2000], top=20_000)
        np.testing.assert_array_equal(grown.id_array(), allowed)
        for q in data[[3, 1500, 3999]]:
            expected = v.search(q, 10, allowed)
            assert v.search(q, 10, selection) == expected
            assert {i for i, _ in v.search(q, 10, bitmap)} == {i for i, _ in expected} or kind == HNSW
            assert v.search(q, 10, grown) == expected
            assert all(i in set(allowed) and i != 14 for i, _ in v.search(q, 10, bitmap))


def test_the_write_path_compresses_deletes_and_rebuilds(settings, hash_encoder):
    from archive.archive import open_archive
    from archive.documents import Article
    from archive.search import Searcher, SearchRequest
    from archive.write import delete_article, ingest, reindex

    config = settings.with_(ann_threshold=100, compress_threshold=MIN_VECTORS)
    archive = open_archive(config, encoder=hash_encoder, create=True)
    words = ["tin", "coffee", "oil", "grain", "steel", "bank", "rates", "gold", "crop", "port", "ship", "strike"]
    articles = [
        Article(
            title=f"{words[i % 12]} {words[(i // 12) % 12]} report {i}",
            body=f"{words[i % 12]} {words[(i * 7) % 12]} {words[(i // 3) % 12]} number{i} market news.",
            uid=f"c-{i}",
            source="wire" if i % 2 else "desk",
        )
        for i in range(MIN_VECTORS + 100)
    ]
    ingest(archive, articles)
    assert archive.vectors.index_type == COMPRESSED and read_manifest(archive.index_dir).index_type == COMPRESSED

    def exact_top(text: str, allowed: np.ndarray | None = None) -> int:
        """The chunk exact search over SQL's vectors puts first."""
        exact = VectorIndex(hash_encoder.dim)
        exact.add(*archive.stored_vectors(archive.chunk_ids().tolist()))
        return exact.search(hash_encoder.encode_query(text), 1, allowed)[0][0]

    def top(arch, q: str) -> list:
        return Searcher(arch).search(SearchRequest(q=q, mode="semantic")).results

    for text in ("number77 tin", "number78 oil"):
        assert top(archive, text)[0].chunk_id == exact_top(text)
    wire = top(archive, "number77 tin source:wire")
    odd = np.array([c for c, a in archive.chunk_owners.lookup(archive.chunk_ids().tolist()).items() if a % 2 == 0])
    assert {r.source for r in wire} == {"wire"} and wire[0].chunk_id == exact_top("number77 tin", odd)
    delete_article(archive, "c-77")
    assert "c-77" not in {r.uid for r in top(archive, "number77 tin")}
    again = open_archive(config, encoder=hash_encoder)  # another process: the published index, SQL's vectors
    assert again.vectors.index_type == COMPRESSED and again.vectors.mapped
    assert sorted(again.vectors.ids().tolist()) == sorted(again.chunk_ids().tolist())
    assert top(again, "number78 oil")[0].chunk_id == exact_top("number78 oil")
    assert reindex(again, from_sql=True) == again.vectors.count == len(again.chunk_ids())
    assert again.vectors.index_type == COMPRESSED
    again.close()
    archive.close()


def test_the_filter_cache_follows_new_updated_and_deleted_articles(archive):
    from archive.documents import Article
    from archive.query.parser import parse_query
    from archive.store import reads
    from archive.write import delete_article, ingest

    def article(i: int, source: str, text: str = "") -> Article:
        return Article(
            title=f"Report {i}", body=text or f"Tin and coffee prices, item {i}.", uid=f"f-{i}", source=source
        )

    ingest(archive, [article(i, "wire" if i % 2 else "desk") for i in range(20)])
    queries = [parse_query(q, archive.settings.labels) for q in ("source:wire", "+coffee source:desk", "+item")]

    def agrees() -> None:
        """Among the chunks that exist, the cached bitmap allows what SQL allows (a gone chunk may keep its bit:
        it is in no index)."""
        with archive.engine.connect() as conn:
            for query in queries:
                expected = np.sort(reads.allowed_chunk_ids(conn, archive.keyword, query))
                live = np.intersect1d(archive.allowed.selection(query).id_array(), archive.chunk_ids())
                np.testing.assert_array_equal(live, expected)

    agrees()
    first = archive.allowed.selection(queries[0])
    assert archive.allowed.selection(queries[0]) is first  # nothing stored since: the same bitmap
    ingest(archive, [article(i, "wire") for i in range(20, 30)])
    agrees()  # grown by the new chunks only
    ingest(archive, [article(3, "desk", "Coffee exports fell sharply, the desk reported.")])  # an update: new chunks
    delete_article(archive, "f-5")
    agrees()
    hits = archive.vectors.search(archive.encoder.encode_query("coffee"), 50, archive.allowed.selection(queries[0]))
    owners = archive.chunk_owners.lookup([cid for cid, _ in hits])
    with archive.engine.connect() as conn:
        wire = set(reads.allowed_chunk_ids(conn, archive.keyword, queries[0]).tolist())
    assert hits and {cid for cid, _ in hits} <= wire and len(set(owners.values())) == len(hits)
