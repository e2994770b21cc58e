"""`VectorIndex`: chunk vectors in FAISS, addressed by chunk id, whatever the kind of index.

It holds one FAISS index of a kind (`factory.KINDS`: flat, hnsw, compressed) and does what
every kind shares: a lock (FAISS allows concurrent searches but not a search during an add),
tombstones for a kind that cannot delete (HNSW), filters (an id array or a `Selection`),
re-ranking a compressed kind's candidates with the exact vectors (`exact`: SQL in an archive),
switching kind as the index grows (`fit_size`), and persistence (`files.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import faiss
import numpy as np

from archive.store.manifest import FLAT, Manifest
from archive.store.vectors import files
from archive.store.vectors.base import ExactVectors, IndexKind, unwrap
from archive.store.vectors.factory import kind_for, kind_named, kind_of
from archive.store.vectors.hnsw import COMPACT_FRACTION
from archive.store.vectors.selection import Selection

REBUILD_BATCH = 100_000  # vectors read and added at a time while building an index again
TRAIN_SEED = 7


def _ids(values: Iterable[int] | np.ndarray) -> np.ndarray:
    return np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.int64).ravel()


class VectorIndex:
    """Chunk vectors in FAISS, addressed by chunk id."""

    def __init__(
        self,
        dim: int,
        index: faiss.Index | None = None,
        tombstones: Iterable[int] = (),
        index_type: str = FLAT,
        exact: ExactVectors | None = None,
    ) -> None:
        self.dim = dim
        self.index = index if index is not None else kind_named(index_type).new(dim)
        kind = kind_of(self.index)
        if kind is None:
            raise ValueError(f"not an archive vector index: {type(self.index).__name__}")
        self.kind: IndexKind = kind
        self.tombstones: set[int] = {int(i) for i in tombstones}
        self.exact = exact  # where a compressed kind reads exact vectors (re-ranking, `vectors`, rebuilds)
        self._tomb_array: np.ndarray | None = None
        self._id_array: np.ndarray | None = None  # every stored id, in row order (cached)
        self._positions: tuple[np.ndarray, np.ndarray] | None = None  # (sorted ids, their rows)
        # FAISS allows concurrent searches but not a search during an add (the storage may move):
        # the web process can ingest (POST /api/articles) while its other threads search. Reads hold
        # `_lock`; a change holds `_changes` and then `_lock` for the change itself; a save only reads
        # the index, so it holds `_changes` alone and searches go on while it writes and syncs files.
        self._lock = threading.RLock()
        self._changes = threading.RLock()
        self.mapped = False  # memory-mapped read-only from a published version (readers): never written to

    # -- facts ------------------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Number of live vectors (tombstones excluded)."""
        return int(self.index.ntotal) - len(self.tombstones)

    @property
    def index_type(self) -> str:
        """The kind's name: 'flat', 'hnsw' or 'compressed'."""
        return self.kind.name

    def ids(self) -> np.ndarray:
        """All live chunk ids in the index (int64)."""
        with self._lock:
            if not self.index.ntotal:
                return np.zeros(0, np.int64)
            ids = self._stored_ids()
            return ids[~np.isin(ids, self._tombs())] if self.tombstones else ids.copy()

    def _stored_ids(self) -> np.ndarray:
        if self._id_array is None:
            self._id_array = self.kind.ids(self.index)
        return self._id_array

    def _tombs(self) -> np.ndarray:
        if self._tomb_array is None:
            self._tomb_array = np.fromiter(self.tombstones, dtype=np.int64, count=len(self.tombstones))
        return self._tomb_array

    def _changed(self) -> None:
        self._tomb_array = None
        self._id_array = None
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
        with self._changes:
            if self.tombstones and np.isin(ids, self._tombs()).any():
                self.compact()  # an id coming back: drop its dead node first, or it would shadow the new one
            with self._lock:
                self.index.add_with_ids(vectors, ids)
                self._changed()

    def remove(self, ids: Iterable[int] | np.ndarray) -> int:
        """Remove the vectors of these chunk ids; returns how many were removed."""
        ids = _ids(ids)
        if len(ids):
            self._writable()
        with self._changes, self._lock:
            if len(ids) == 0 or self.count == 0:
                return 0
            if not self.kind.tombstones:
                removed = self.kind.remove(self.index, ids)
                self._changed()
                return removed
            present = np.setdiff1d(np.intersect1d(ids, self._stored_ids()), self._tombs())
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

        Only the single writer calls this, so nothing is added meanwhile; searches go on against
        the old index while the new one is built (minutes for an HNSW graph or a compressed index's
        training). The vectors are read back (an exact kind) or from `exact` (a compressed one) in
        batches, so a 10M-vector rebuild never holds them all.
        """
        with self._changes:
            with self._lock:
                ids = np.sort(self.ids())
            fresh = self._built(index_type, ids, self._read)
            with self._lock:
                self.index, self.kind = fresh, kind_named(index_type)
                self.tombstones = set()
                self._changed()

    @classmethod
    def build(cls, dim: int, index_type: str, ids: np.ndarray, exact: ExactVectors) -> VectorIndex:
        """A new index of `index_type` holding the vectors of `ids`, read from `exact` (SQL: `archive reindex
        --from-sql` of a large archive builds its compressed index directly, never all of it in memory)."""
        ids = np.sort(np.asarray(ids, dtype=np.int64))
        vectors = cls(dim, exact=exact)

        def read(part: np.ndarray) -> np.ndarray:
            found, rows = exact.read(part)
            if len(found) != len(part):
                raise RuntimeError(f"{len(part) - len(found)} of the vectors to index are missing from the source")
            return rows

        vectors.index = vectors._built(index_type, ids, read)
        vectors.kind = kind_named(index_type)
        return vectors

    def _built(self, index_type: str, ids: np.ndarray, read: Callable[[np.ndarray], np.ndarray]) -> faiss.Index:
        """A FAISS index of `index_type` with the vectors of `ids` (sorted), read in batches by `read`."""
        kind = kind_named(index_type)
        rng = np.random.default_rng(TRAIN_SEED)

        def sample(size: int) -> np.ndarray:
            return read(np.sort(rng.choice(ids, size=min(size, len(ids)), replace=False)))

        fresh = kind.new(self.dim, sample, len(ids))
        for start in range(0, len(ids), REBUILD_BATCH):
            part = ids[start : start + REBUILD_BATCH]
            fresh.add_with_ids(read(part), part)
        return fresh

    def _read(self, ids: np.ndarray) -> np.ndarray:
        """Exact vectors of live ids (each must have one)."""
        if self.kind.exact:
            with self._lock:
                return self.kind.reconstruct(self.index, ids)
        found, vectors = self._exact_source().read(ids)
        if len(found) != len(np.unique(ids)):
            raise RuntimeError(f"{len(ids) - len(found)} vectors of the index are missing from its exact source")
        return vectors[np.searchsorted(found, ids)]

    def _exact_source(self) -> ExactVectors:
        if self.exact is None:
            raise RuntimeError("a compressed index needs its exact vectors (VectorIndex.exact) to read vectors")
        return self.exact

    def fit_size(self, threshold: int, compress_above: int | None = None) -> bool:
        """Switch kind as the index grows past `threshold` (HNSW) and `compress_above` (compressed), and back when
        it shrinks well below; rebuild an HNSW graph full of tombstones or a compressed index trained for far
        fewer vectors. True if rebuilt."""
        kind = kind_for(self.index_type, self.count, threshold, compress_above)
        if kind != self.index_type or (self.kind.tombstones and self.needs_compaction()):
            self.rebuild(kind)
            return True
        if self.kind.outgrown(self.index, self.count):
            self.rebuild(kind)
            return True
        return False

    # -- reads ------------------------------------------------------------------------------

    def search(
        self, query: np.ndarray, k: int, allowed_ids: np.ndarray | Selection | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (chunk id, cosine) for one query vector, optionally only among `allowed_ids`."""
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        # One query on one OpenMP thread: a second thread buys little for one query, and on a busy
        # machine its barrier waits for a descheduled core (measured here: a search over 18 vectors
        # took 10-30 ms on two threads, 0.05 ms on one). The setting is per calling thread (libgomp).
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            with self._lock:
                index, kind = self.index, self.kind
                return self._search(index, kind, query, k, allowed_ids)
        finally:
            faiss.omp_set_num_threads(threads)

    def _search(
        self, index: faiss.Index, kind: IndexKind, query: np.ndarray, k: int, allowed: np.ndarray | Selection | None
    ) -> list[tuple[int, float]]:
        if self.count == 0 or k <= 0:
            return []
        keep: list = []  # FAISS selectors hold raw pointers to these: they must outlive the search
        selector: faiss.IDSelector | None = None
        share = 1.0
        if allowed is not None:
            listed = isinstance(allowed, np.ndarray)
            few = allowed if listed else allowed.ids
            # An id list; or the ids a small Selection keeps, for an exact search among them (graph, codes).
            if few is not None and (listed or len(few) <= kind.exact_below):
                few = np.asarray(few, dtype=np.int64)
                if self.tombstones:
                    few = few[~np.isin(few, self._tombs())]
                if len(few) == 0:
                    return []
                if len(few) <= kind.exact_below:
                    return self._exact_among(query[0], k, few)
                k = min(k, len(few))
                selector = faiss.IDSelectorBatch(few)
                share = len(few) / max(self.count, 1)
            else:
                assert isinstance(allowed, Selection)
                if allowed.count == 0:
                    return []
                keep.append(allowed)
                selector = allowed.selector()
                k = min(k, allowed.count)
                share = allowed.count / max(self.count, 1)
        if self.tombstones:
            keep.append(selector)
            dead = faiss.IDSelectorBatch(self._tombs())
            keep.append(dead)
            alive = faiss.IDSelectorNot(dead)
            keep.append(alive)
            selector = alive if selector is None else faiss.IDSelectorAnd(selector, alive)
        k = min(k, self.count)
        params = kind.params(index, k, min(share, 1.0))
        if selector is not None:
            params.sel = selector
        scores, ids = index.search(query, kind.fetch(k), params=params)
        hits = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=False) if i != -1]
        if kind.exact:
            return hits[:k]
        return self._rerank(query[0], np.asarray([i for i, _ in hits], dtype=np.int64), k)

    def _rerank(self, query: np.ndarray, candidates: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The top k of a compressed index's candidates by their exact cosines (a candidate without an exact
        vector, deleted meanwhile, is dropped)."""
        if len(candidates) == 0:
            return []
        found, vectors = self._exact_source().read(candidates)
        scores = vectors @ query
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(found[i]), float(scores[i])) for i in top]

    def _exact_among(self, query: np.ndarray, k: int, allowed: np.ndarray) -> list[tuple[int, float]]:
        """Exact top-k over a small set of ids (their stored or exact vectors; no graph walk, no lists)."""
        allowed, rows = self._stored_rows(allowed)
        if len(allowed) == 0:
            return []
        if not self.kind.exact:
            return self._rerank(query, allowed, k)
        matrix = unwrap(self.index).reconstruct_batch(rows)
        scores = matrix @ query
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(allowed[i]), float(scores[i])) for i in top]

    def _stored_rows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(those of these ids the index stores, in their order, and their inner index rows)."""
        sorted_ids, rows = self._row_lookup()
        at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
        present = sorted_ids[at] == ids
        return ids[present], rows[at[present]]

    def _row_lookup(self) -> tuple[np.ndarray, np.ndarray]:
        """Chunk ids sorted, with the inner index row of each."""
        if self._positions is None:
            ids = self._stored_ids()
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
            return self._read(ids)

    def held(self, ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of those of these chunk ids whose exact vectors the index itself holds (live ones, in
        id order); none for a compressed kind, whose exact vectors are SQL's. No error for the rest."""
        ids = np.unique(_ids(ids))
        with self._lock:
            if not self.kind.exact or len(ids) == 0 or not self.index.ntotal:
                return np.zeros(0, np.int64), np.zeros((0, self.dim), dtype=np.float32)
            ids, rows = self._stored_rows(ids)
            if self.tombstones:
                live = ~np.isin(ids, self._tombs())
                ids, rows = ids[live], rows[live]
            if len(ids) == 0:
                return ids, np.zeros((0, self.dim), dtype=np.float32)
            return ids, np.ascontiguousarray(unwrap(self.index).reconstruct_batch(rows), dtype=np.float32)

    # -- persistence ------------------------------------------------------------------------

    def save(self, index_dir: Path, manifest: Manifest) -> None:
        """Publish the index and its manifest as a new version (`store.manifest.publish`: one rename flips it).

        Holds off changes, not searches: writing and syncing the files takes a while on a slow disk, and FAISS
        lets searches run beside a write_index (both only read the index)."""
        with self._changes:
            manifest.count = self.count
            manifest.index_type = self.index_type
            manifest.tombstones = sorted(self.tombstones)
            described = self.kind.describe(self.index)
            if described:
                manifest.extra = {**manifest.extra, "index": described}
            files.save(self.index, index_dir, manifest)

    @classmethod
    def load(cls, index_dir: Path, dim: int, *, mapped: bool = False, exact: ExactVectors | None = None) -> VectorIndex:
        """Load the published index of `index_dir` (or an empty one when there is none yet); `dim` is what the model
        makes. `mapped`: memory-map it read-only where FAISS can (readers; processes then share the pages).
        `exact`: where a compressed index reads its exact vectors.

        The index file is trusted over its manifest (whose count may be stale after a crash in an
        archive saved before versions), but a missing, unreadable or mismatched file is a
        DamagedIndex naming it: never an empty index that would silently match nothing.
        """
        index, tombstones, mapped = files.load(index_dir, dim, mapped=mapped)
        if index is None:
            return cls(dim, exact=exact)
        vectors = cls(dim, index, tombstones=tombstones, exact=exact)
        vectors.mapped = mapped
        return vectors
