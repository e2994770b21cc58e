"""The approximate (HNSW) index: chosen by size, tombstones for removal, compaction, and through the write path."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from archive.store.vectors import COMPACT_FRACTION, FLAT, HNSW, Manifest, VectorIndex, read_manifest
from tests.test_vectors import DIM, unit_rows


def test_index_type_follows_size():
    v = VectorIndex(DIM)
    v.add(np.arange(300), unit_rows(300))
    assert not v.fit_size(threshold=1000) and v.index_type == FLAT
    assert v.fit_size(threshold=250) and v.index_type == HNSW
    assert v.count == 300
    query = unit_rows(300)[17]
    assert v.search(query, 1)[0][0] == 17
    # Shrinking far below the threshold goes back to exact search.
    v.remove(np.arange(200))
    assert v.fit_size(threshold=250) and v.index_type == FLAT and v.count == 100


def test_hnsw_removal_is_a_tombstone_until_compaction(tmp_path: Path):
    v = VectorIndex(DIM, index_type=HNSW)
    data = unit_rows(400)
    v.add(np.arange(400), data)
    v.remove([3, 4])
    assert v.tombstones == {3, 4} and v.count == 398 and v.index.ntotal == 400
    v.save(tmp_path, Manifest(model="m", model_sha256=None, dim=DIM))
    assert read_manifest(tmp_path).tombstones == [3, 4]
    loaded = VectorIndex.load(tmp_path, DIM)
    assert loaded.tombstones == {3, 4}
    assert all(i not in (3, 4) for i, _ in loaded.search(data[3], 10))
    loaded.compact()
    assert loaded.tombstones == set() and loaded.index.ntotal == 398
    assert loaded.search(data[5], 1)[0][0] == 5


def test_many_tombstones_trigger_compaction():
    v = VectorIndex(DIM, index_type=HNSW)
    v.add(np.arange(500), unit_rows(500))
    v.remove(np.arange(int(500 * COMPACT_FRACTION) + 1))
    assert v.needs_compaction()
    assert v.fit_size(threshold=300) and v.index_type == HNSW and not v.tombstones


def test_a_removed_id_added_again_is_found_once():
    v = VectorIndex(DIM, index_type=HNSW)
    data = unit_rows(50)
    v.add(np.arange(50), data)
    v.remove([7])
    v.add([7], data[8:9])
    hits = v.search(data[8], 5)
    assert [i for i, _ in hits].count(7) == 1 and 7 in v.ids()


def test_narrow_and_wide_filters_on_hnsw():
    v = VectorIndex(DIM, index_type=HNSW)
    data = unit_rows(2000)
    v.add(np.arange(2000), data)
    v.remove([11])
    narrow = np.array([10, 11, 12, 1999])
    assert v.search(data[12], 10, narrow)[0][0] == 12
    assert 11 not in [i for i, _ in v.search(data[11], 10, narrow)]
    wide = np.arange(0, 2000, 2)
    hits = v.search(data[500], 10, wide)
    assert hits[0][0] == 500 and all(i % 2 == 0 for i, _ in hits)


def test_ingest_switches_to_hnsw_and_delete_keeps_consistency(settings, hash_encoder):
    from archive.archive import open_archive
    from archive.readers import read_paths
    from archive.search import Searcher, SearchRequest
    from archive.write import delete_article, ingest, reindex
    from tests.conftest import CORPUS, SEED_UID, SEEDS

    archive = open_archive(settings.with_(ann_threshold=5), encoder=hash_encoder, create=True)
    ingest(archive, read_paths([SEEDS, CORPUS]))
    assert archive.vectors.index_type == HNSW and read_manifest(archive.index_dir).index_type == HNSW
    results = Searcher(archive).search(SearchRequest(q="Iran camera disconnection", mode="semantic")).results
    assert results[0].uid == SEED_UID
    chunks_before = archive.vectors.count
    victim = results[1].uid
    delete_article(archive, victim)
    assert archive.vectors.count < chunks_before
    assert sorted(archive.vectors.ids().tolist()) == sorted(archive.chunk_ids().tolist())
    again = open_archive(settings.with_(ann_threshold=5), encoder=hash_encoder)
    assert sorted(again.vectors.ids().tolist()) == sorted(again.chunk_ids().tolist())
    assert victim not in {
        r.uid for r in Searcher(again).search(SearchRequest(q="Iran camera", mode="semantic")).results
    }
    assert reindex(again) == again.vectors.count and not again.vectors.tombstones
    again.close()
    archive.close()
