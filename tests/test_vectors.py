"""VectorIndex: add / remove / filtered search / save / load round trips and the manifest check (flat index)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from archive.errors import ArchiveError, IndexMismatch
from archive.store.vectors import FLAT, HNSW, Manifest, VectorIndex, files, read_manifest

DIM = 16


def unit_rows(n: int, seed: int = 0) -> np.ndarray:
    """n random unit vectors."""
    x = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def manifest() -> Manifest:
    return Manifest(model="m", model_sha256="abc", dim=DIM)


@pytest.fixture(params=[FLAT, HNSW])
def index(request) -> VectorIndex:
    """An index of each type holding 200 vectors under ids 1000..1199."""
    v = VectorIndex(DIM, index_type=request.param)
    v.add(np.arange(1000, 1200), unit_rows(200))
    return v


def test_search_finds_each_vector_first(index: VectorIndex):
    data = unit_rows(200)
    for row in (0, 57, 199):
        (top_id, score), *_ = index.search(data[row], 5)
        assert top_id == 1000 + row and score == pytest.approx(1.0, abs=1e-5)


def test_filtered_search_returns_only_allowed_ids(index: VectorIndex):
    allowed = np.array([1003, 1010, 1150, 4242])  # 4242 is not in the index
    hits = index.search(unit_rows(200)[10], 10, allowed)
    assert hits[0][0] == 1010
    assert {i for i, _ in hits} <= {1003, 1010, 1150}
    assert index.search(unit_rows(1, seed=9)[0], 10, np.array([], dtype=np.int64)) == []


def test_remove_hides_vectors_everywhere(index: VectorIndex):
    data = unit_rows(200)
    assert index.remove([1005, 1006, 9999]) == 2
    assert index.remove([1005]) == 0  # already gone
    assert index.count == 198
    assert 1005 not in index.ids() and len(index.ids()) == 198
    assert all(i != 1005 for i, _ in index.search(data[5], 20))
    assert all(i != 1005 for i, _ in index.search(data[5], 20, np.array([1005, 1007])))
    with pytest.raises(RuntimeError):
        index.vectors([1005])
    np.testing.assert_allclose(index.vectors([1007, 1008]), data[7:9], atol=1e-6)


def test_save_load_round_trip(index: VectorIndex, tmp_path: Path):
    index.remove([1001])
    index.save(tmp_path, manifest())
    loaded = VectorIndex.load(tmp_path, DIM)
    m = read_manifest(tmp_path)
    assert m.count == loaded.count == 199 and m.index_type == loaded.index_type == index.index_type
    query = unit_rows(200)[42]
    assert loaded.search(query, 7) == index.search(query, 7)
    assert 1001 not in loaded.ids()
    assert oct((tmp_path / "vectors.faiss").stat().st_mode & 0o777) == "0o644"


def test_load_without_files_is_empty(tmp_path: Path):
    assert VectorIndex.load(tmp_path, DIM).count == 0


def test_load_with_another_dimension_is_refused(index: VectorIndex, tmp_path: Path):
    index.save(tmp_path, manifest())
    with pytest.raises(IndexMismatch, match="reindex"):
        VectorIndex.load(tmp_path, DIM * 2)


def test_manifest_refuses_another_model_or_dimension():
    # The encoder family is the Archive's check (tests/test_encoders_onnx.py): vectors know no encoders.
    m = manifest()
    m.check_compatible("m", "abc", DIM)
    with pytest.raises(IndexMismatch, match="model"):
        m.check_compatible("other", "abc", DIM)
    with pytest.raises(IndexMismatch, match="dimension"):
        m.check_compatible("m", "abc", DIM * 2)


def test_add_checks_shapes():
    v = VectorIndex(DIM)
    with pytest.raises(ValueError):
        v.add([1, 2], unit_rows(3))
    v.add([], np.zeros((0, DIM), np.float32))
    assert v.count == 0 and v.search(unit_rows(1)[0], 3) == []


def test_a_dimension_mismatch_says_which_side_is_which(index: VectorIndex, tmp_path: Path):
    """Issue 15 item 9: the message named the manifest's dimension as the model's."""
    m = manifest()
    with pytest.raises(IndexMismatch) as caught:
        m.check_compatible("m", "abc", DIM * 2)
    assert f"the index holds {DIM}-dimensional vectors, the model m makes {DIM * 2}-dimensional ones" in str(
        caught.value
    )
    index.save(tmp_path, m)
    with pytest.raises(IndexMismatch) as caught:
        VectorIndex.load(tmp_path, DIM * 2)
    assert f"holds {DIM}-dimensional vectors but the model makes {DIM * 2}-dimensional ones" in str(caught.value)


def test_a_manifest_that_disagrees_with_its_index_is_named_as_such(archive, settings):
    import json

    from archive.archive import open_archive
    from archive.documents import Article
    from archive.write import ingest

    ingest(archive, [Article(title="t", body="Tin prices slumped.", uid="v-1")])
    path = archive.index_dir / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "dim": 768}))
    reader = open_archive(settings)  # no model loaded yet, as for `archive related`
    with pytest.raises(ArchiveError) as caught:
        _ = reader.vectors
    message = str(caught.value)
    assert f"holds 384-dimensional vectors but {path} records 768-dimensional ones" in message
    assert "model makes 768" not in message and "archive reindex" in message


def test_searches_go_on_while_a_save_writes_its_files_and_changes_wait(index, tmp_path, monkeypatch):
    """A save only reads the index: searches and vector reads answer while it writes and syncs its files (slow on
    a slow disk), and an add waits for it (the saved file and manifest describe one state)."""
    inside, release = threading.Event(), threading.Event()
    save = files.save

    def held_save(*args, **kwargs):
        inside.set()
        assert release.wait(30), "the test never released the save"
        return save(*args, **kwargs)

    monkeypatch.setattr(files, "save", held_save)
    saver = threading.Thread(target=index.save, args=(tmp_path, manifest()))
    saver.start()
    try:
        assert inside.wait(10)
        answers: list = []
        reader = threading.Thread(
            target=lambda: answers.extend([index.search(unit_rows(200)[3], 1), index.held([1003])[0].tolist()])
        )
        reader.start()
        reader.join(10)
        assert answers == [[(1003, pytest.approx(1.0, abs=1e-5))], [1003]], "a search waited for the save"
        added = threading.Event()
        adder = threading.Thread(target=lambda: (index.add([5000], unit_rows(1, seed=9)), added.set()))
        adder.start()
        assert not added.wait(0.3), "an add changed the index while it was being saved"
    finally:
        release.set()
        saver.join(30)
    adder.join(30)
    assert added.is_set() and index.count == 201
    assert VectorIndex.load(tmp_path, DIM).count == 200  # the version saved is the one before the add
