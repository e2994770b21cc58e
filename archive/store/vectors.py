"""The vector index: FAISS inner product over unit vectors, chunk ids as FAISS ids, plus its manifest.

Two index types, chosen by size (see `VectorIndex.fit_size`):

- ``flat``: exact search (`IndexFlatIP`), up to `Settings.ann_threshold` vectors. A
  query scans every vector: ~10 ms per 100,000 on one core here.
- ``hnsw``: approximate search (`IndexHNSWFlat`, inner product, M=32), above the threshold.
  HNSW cannot delete a node, so a removed chunk becomes a *tombstone*: its id is listed in
  the manifest and filtered out of every search; `compact()` (run by the indexer when
  tombstones pile up, and by `archive reindex`) rebuilds the graph without them.

Both are wrapped in `IndexIDMap2`, so FAISS ids are chunk ids and vectors can be read back.

Its files (the manifest, atomic writes, crash debris) are in `archive.store.manifest`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

import faiss
import numpy as np

from archive.errors import DamagedIndex, IndexMismatch
from archive.store.manifest import (
    FLAT,
    HNSW,
    INDEX_FILE,
    MANIFEST_FILE,
    REPAIR,
    Manifest,
    manifest_is_stale,
    publish,
    published_dir,
    read_manifest,
    remove_stale_temp_files,
)

HNSW_M = 32  # graph degree: recall/memory trade-off (~260 bytes of links per vector)
HNSW_EF_CONSTRUCTION = 80  # build-time beam; bench/ann.py: 1M vectors in ~5 min, recall@10 0.988 at efSearch 64
HNSW_EF_SEARCH = 64  # query-time beam for k=10: recall@10 0.988 in 0.25 ms on 1M (exact: 103 ms)
MAX_EF_SEARCH = 4096
EXACT_BELOW = 20_000  # allowed-id filters this small are searched exactly, not through the graph
COMPACT_FRACTION = 0.2  # rebuild the graph when this share of its nodes are tombstones
LOAD_ATTEMPTS = 3  # a reader resolving `current` just before the writer prunes that version tries again


def _ids(values: Iterable[int] | np.ndarray) -> np.ndarray:
    return np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.int64).ravel()


def new_faiss_index(dim: int, index_type: str = FLAT) -> faiss.Index:
    """An empty id-mapped FAISS index of the given type."""
    if index_type == FLAT:
        inner = faiss.IndexFlatIP(dim)
    elif index_type == HNSW:
        inner = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        raise ValueError(f"unknown index type {index_type!r}")
    return faiss.IndexIDMap2(inner)


class VectorIndex:
    """Chunk vectors in FAISS, addressed by chunk id."""

    def __init__(
        self, dim: int, index: faiss.Index | None = None, tombstones: Iterable[int] = (), index_type: str = FLAT
    ) -> None:
        self.dim = dim
        self.index = index if index is not None else new_faiss_index(dim, index_type)
        self.tombstones: set[int] = {int(i) for i in tombstones}
        self._tomb_array: np.ndarray | None = None
        self._positions: tuple[np.ndarray, np.ndarray] | None = None  # (sorted ids, their rows)
        # FAISS allows concurrent searches but not a search during an add (the storage may move):
        # the web process can ingest (POST /api/articles) while its other threads search.
        self._lock = threading.RLock()
        self.mapped = False  # memory-mapped read-only from a published version (readers): never written to

    # -- facts ------------------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Number of live vectors (tombstones excluded)."""
        return int(self.index.ntotal) - len(self.tombstones)

    @property
    def index_type(self) -> str:
        """Short name of the underlying FAISS index: 'flat' or 'hnsw'."""
        inner = faiss.downcast_index(self.index.index) if hasattr(self.index, "index") else self.index
        return {"IndexFlatIP": FLAT, "IndexHNSWFlat": HNSW}.get(type(inner).__name__, type(inner).__name__)

    def ids(self) -> np.ndarray:
        """All live chunk ids in the index (int64)."""
        with self._lock:
            if not self.index.ntotal:
                return np.zeros(0, np.int64)
            ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
            return ids[~np.isin(ids, self._tombs())] if self.tombstones else ids

    def _tombs(self) -> np.ndarray:
        if self._tomb_array is None:
            self._tomb_array = np.fromiter(self.tombstones, dtype=np.int64, count=len(self.tombstones))
        return self._tomb_array

    def _changed(self) -> None:
        self._tomb_array = None
        self._positions = None

    # -- writes -----------------------------------------------------------------------------

    def _writable(self) -> None:
        if self.mapped:
            raise RuntimeError("a memory-mapped published index is read-only: a writer loads its own copy")

    def add(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under the given chunk ids."""
        ids = _ids(ids)
        if len(ids) == 0:
            return
        self._writable()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(f"expected vectors of shape ({len(ids)}, {self.dim}), got {vectors.shape}")
        if self.tombstones and np.isin(ids, self._tombs()).any():
            self.compact()  # an id coming back: drop its dead node first, or it would shadow the new one
        with self._lock:
            self.index.add_with_ids(vectors, ids)
            self._positions = None

    def remove(self, ids: Iterable[int] | np.ndarray) -> int:
        """Remove the vectors of these chunk ids; returns how many were removed."""
        ids = _ids(ids)
        if len(ids):
            self._writable()
        with self._lock:
            if len(ids) == 0 or self.count == 0:
                return 0
            if self.index_type != HNSW:
                removed = int(self.index.remove_ids(faiss.IDSelectorBatch(ids)))
                self._changed()
                return removed
            present = np.setdiff1d(np.intersect1d(ids, faiss.vector_to_array(self.index.id_map)), self._tombs())
            self.tombstones.update(int(i) for i in present)
            self._changed()
            return len(present)

    def needs_compaction(self) -> bool:
        """True when tombstones are a large enough share of the graph to rebuild it."""
        return bool(self.tombstones) and len(self.tombstones) > COMPACT_FRACTION * max(int(self.index.ntotal), 1)

    def compact(self) -> None:
        """Rebuild the index without its tombstones."""
        if not self.tombstones:
            return
        self.rebuild(self.index_type)

    def rebuild(self, index_type: str) -> None:
        """Re-create the index as `index_type` from its live vectors (also drops tombstones).

        Only the single writer calls this, so nothing is added meanwhile; searches go on
        against the old index while the new one is built (minutes for an HNSW graph).
        """
        with self._lock:
            ids = self.ids()
            vectors = self.index.reconstruct_batch(ids) if len(ids) else np.zeros((0, self.dim), np.float32)
        fresh = new_faiss_index(self.dim, index_type)
        if len(ids):
            fresh.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        del vectors
        with self._lock:
            self.index = fresh
            self.tombstones = set()
            self._changed()

    def fit_size(self, threshold: int) -> bool:
        """Switch flat -> HNSW once the index outgrows `threshold` (and back when it shrinks well below); True if rebuilt."""
        kind = self.index_type
        if kind == FLAT and self.count > threshold:
            self.rebuild(HNSW)
            return True
        if kind == HNSW and self.count < threshold // 2:  # hysteresis: no flip-flopping around the threshold
            self.rebuild(FLAT)
            return True
        if kind == HNSW and self.needs_compaction():
            self.compact()
            return True
        return False

    # -- reads ------------------------------------------------------------------------------

    def search(self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (chunk id, cosine) for one query vector, optionally only among `allowed_ids`."""
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        # One query on one OpenMP thread: a second thread buys little for one query, and on a busy
        # machine its barrier waits for a descheduled core (measured here: a search over 18 vectors
        # took 10-30 ms on two threads, 0.05 ms on one). The setting is per calling thread (libgomp).
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            with self._lock:
                return self._search(query, k, allowed_ids)
        finally:
            faiss.omp_set_num_threads(threads)

    def _search(self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None) -> list[tuple[int, float]]:
        if self.count == 0 or k <= 0:
            return []
        hnsw = self.index_type == HNSW
        if allowed_ids is not None:
            allowed = np.asarray(allowed_ids, dtype=np.int64)
            if self.tombstones:
                allowed = allowed[~np.isin(allowed, self._tombs())]
            if len(allowed) == 0:
                return []
            if hnsw and len(allowed) <= EXACT_BELOW:
                return self._exact_among(query[0], k, allowed)
            k = min(k, len(allowed))
            selector = faiss.IDSelectorBatch(allowed)
            share = len(allowed) / max(self.count, 1)
        else:
            # Keep the inner selector in a local: FAISS holds only a raw pointer to it.
            dead = faiss.IDSelectorBatch(self._tombs()) if self.tombstones else None
            selector = faiss.IDSelectorNot(dead) if dead is not None else None
            share = 1.0
        k = min(k, self.count)
        if hnsw:
            params = faiss.SearchParametersHNSW()
            # A filter hides part of the graph from the result list: widen the beam in proportion.
            # 2k: with efSearch = k, recall@300 was 0.93 on 1M vectors; a wider beam costs ~1 ms.
            params.efSearch = int(min(MAX_EF_SEARCH, max(HNSW_EF_SEARCH, 2 * k) / max(share, 1e-3)))
        else:
            params = faiss.SearchParameters() if selector is not None else None
        if selector is not None:
            params.sel = selector
        scores, ids = self.index.search(query, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=False) if i != -1]

    def _exact_among(self, query: np.ndarray, k: int, allowed: np.ndarray) -> list[tuple[int, float]]:
        """Exact top-k over a small set of ids (read back from the index, no graph walk)."""
        sorted_ids, rows = self._row_lookup()
        at = np.searchsorted(sorted_ids, allowed)
        at = np.minimum(at, len(sorted_ids) - 1)
        allowed = allowed[sorted_ids[at] == allowed]
        if len(allowed) == 0:
            return []
        inner = faiss.downcast_index(self.index.index)
        matrix = inner.reconstruct_batch(rows[np.searchsorted(sorted_ids, allowed)])
        scores = matrix @ query
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(allowed[i]), float(scores[i])) for i in top]

    def _row_lookup(self) -> tuple[np.ndarray, np.ndarray]:
        """Chunk ids sorted, with the inner index row of each."""
        if self._positions is None:
            ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
            order = np.argsort(ids, kind="stable")
            self._positions = (ids[order], order.astype(np.int64))
        return self._positions

    def vectors(self, ids: Iterable[int]) -> np.ndarray:
        """The stored vectors of these chunk ids (each must be present, else RuntimeError)."""
        ids = _ids(ids)
        if len(ids) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            if self.tombstones and np.isin(ids, self._tombs()).any():
                raise RuntimeError("vector of a removed chunk requested")
            return np.ascontiguousarray(self.index.reconstruct_batch(ids), dtype=np.float32)

    # -- persistence ------------------------------------------------------------------------

    def save(self, index_dir: Path, manifest: Manifest) -> None:
        """Publish the index and its manifest as a new version (`store.manifest.publish`: one rename flips it)."""
        with self._lock:
            manifest.count = self.count
            manifest.index_type = self.index_type
            manifest.tombstones = sorted(self.tombstones)

            def manifest_bytes(index_bytes: int) -> bytes:
                manifest.index_bytes = index_bytes
                return json.dumps(asdict(manifest), indent=2, sort_keys=True).encode()

            # Streamed to the file: serialize_index would hold a second copy of a 1.5 GB index in RAM.
            publish(
                index_dir, lambda fh: faiss.write_index(self.index, faiss.PyCallbackIOWriter(fh.write)), manifest_bytes
            )

    @classmethod
    def load(cls, index_dir: Path, dim: int, *, mapped: bool = False) -> VectorIndex:
        """Load the published index of `index_dir` (or an empty one when there is none yet); `dim` is what the model
        makes. `mapped`: memory-map it read-only where FAISS can (readers; processes then share the pages).

        The index file is trusted over its manifest (whose count may be stale after a crash in an
        archive saved before versions), but a missing, unreadable or mismatched file is a
        DamagedIndex naming it: never an empty index that would silently match nothing.
        """
        for _ in range(LOAD_ATTEMPTS):
            folder = published_dir(index_dir)
            try:
                return cls._load_from(index_dir, folder, dim, mapped)
            except DamagedIndex:
                if folder == index_dir or folder.exists() or published_dir(index_dir) == folder:
                    raise
                # the version was pruned between resolving `current` and opening it: resolve again
        return cls._load_from(index_dir, published_dir(index_dir), dim, mapped)

    @classmethod
    def _load_from(cls, index_dir: Path, folder: Path, dim: int, mapped: bool) -> VectorIndex:
        path, shown = folder / INDEX_FILE, index_dir / INDEX_FILE
        manifest = read_manifest(index_dir, folder)
        if not path.exists():
            if manifest is not None and manifest.count > 0:
                raise DamagedIndex(
                    f"{shown} is missing but {index_dir / MANIFEST_FILE} records {manifest.count} vectors; {REPAIR}"
                )
            return cls(dim)
        index = None
        if mapped:
            try:
                index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
            except RuntimeError:
                index = None  # a file this FAISS cannot map: read it into memory below (and report damage there)
        try:
            if index is None:
                mapped = False
                index = faiss.read_index(str(path))
        except RuntimeError:
            raise DamagedIndex(f"{shown} is damaged or truncated (FAISS cannot read it); {REPAIR}") from None
        if not hasattr(index, "id_map"):
            raise DamagedIndex(f"{shown} is not an archive's vector index ({type(index).__name__}); {REPAIR}")
        if manifest is not None and index.d != manifest.dim:
            raise DamagedIndex(
                f"{shown} holds {index.d}-dimensional vectors but {index_dir / MANIFEST_FILE} records "
                f"{manifest.dim}-dimensional ones; {REPAIR}"
            )
        if index.d != dim:
            raise IndexMismatch(
                f"{shown} holds {index.d}-dimensional vectors but the model makes {dim}-dimensional ones; {REPAIR}"
            )
        tombstones = np.asarray(manifest.tombstones if manifest else [], dtype=np.int64)
        if len(tombstones):  # after a crash between the two writes the list may name ids already compacted away
            tombstones = np.intersect1d(tombstones, faiss.vector_to_array(index.id_map))
        vectors = cls(dim, index, tombstones=tombstones.tolist())
        vectors.mapped = mapped
        if vectors.index_type == HNSW:
            faiss.downcast_index(vectors.index.index).hnsw.efSearch = HNSW_EF_SEARCH
        return vectors


__all__ = [
    "FLAT",
    "HNSW",
    "INDEX_FILE",
    "MANIFEST_FILE",
    "Manifest",
    "VectorIndex",
    "manifest_is_stale",
    "new_faiss_index",
    "read_manifest",
    "remove_stale_temp_files",
]
