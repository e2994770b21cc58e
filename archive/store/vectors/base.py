"""The contract every kind of vector index meets, and where exact vectors come from.

A kind (`flat.py`, `hnsw.py`, `compressed.py`) says how to make its FAISS index, how to
find its ids, how to remove from it, how to search it, and whether it holds the exact vectors
(it can read them back) or only codes (its candidates are then re-ranked with the exact vectors
of an `ExactVectors` source: SQL in an archive). `VectorIndex` (`index.py`) holds one of them
and does the rest: the lock, tombstones, filters, persistence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator

import faiss
import numpy as np


class ExactVectors(ABC):
    """Where a compressed index reads exact vectors: `read` some by id, `scan` all of them."""

    @abstractmethod
    def read(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ids found, ascending; their (n, dim) float32 vectors); ids without a vector are left out."""

    @abstractmethod
    def scan(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every vector as (ids, vectors) batches in id order."""


class ArrayVectors(ExactVectors):
    """Exact vectors held in memory (tests, benchmarks): ids and their rows."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        order = np.argsort(np.asarray(ids, dtype=np.int64), kind="stable")
        self.ids = np.asarray(ids, dtype=np.int64)[order]
        self.matrix = np.ascontiguousarray(vectors, dtype=np.float32)[order]

    def read(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ids found, their vectors), ascending."""
        wanted = np.unique(np.asarray(ids, dtype=np.int64))
        at = np.minimum(np.searchsorted(self.ids, wanted), max(len(self.ids) - 1, 0))
        found = wanted[self.ids[at] == wanted] if len(self.ids) else wanted[:0]
        return found, self.matrix[np.searchsorted(self.ids, found)]

    def scan(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All of them, in one batch."""
        yield self.ids, self.matrix


class IndexKind(ABC):
    """One kind of FAISS index, as the archive uses it."""

    name: str
    exact: bool = True  # the index holds the vectors themselves (else codes, re-ranked from ExactVectors)
    tombstones: bool = False  # removal only marks ids dead until the index is rebuilt (HNSW)
    exact_below: int = 0  # a filter allowing at most this many ids is searched exactly among them

    @abstractmethod
    def new(self, dim: int, train: Callable[[int], np.ndarray] | None = None, count: int = 0) -> faiss.Index:
        """An empty index; a kind that must be trained draws its sample with `train(size)` (`count` vectors will
        be added)."""

    @abstractmethod
    def owns(self, index: faiss.Index) -> bool:
        """True when a loaded FAISS index is of this kind."""

    @abstractmethod
    def ids(self, index: faiss.Index) -> np.ndarray:
        """Every id stored in the index (dead ones included), int64, in the index's row order."""

    def remove(self, index: faiss.Index, ids: np.ndarray) -> int:
        """Delete these ids from the index (kinds without tombstones); returns how many it held."""
        return int(index.remove_ids(faiss.IDSelectorBatch(ids)))

    def reconstruct(self, index: faiss.Index, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of these ids (exact kinds only)."""
        return np.ascontiguousarray(index.reconstruct_batch(ids), dtype=np.float32)

    @abstractmethod
    def params(self, index: faiss.Index, k: int, share: float) -> faiss.SearchParameters:
        """Search parameters for a top-k when `share` of the vectors may be returned (a filter hides the rest)."""

    def fetch(self, k: int) -> int:
        """How many candidates to ask FAISS for, to return k (more for a kind that re-ranks)."""
        return k

    def loaded(self, index: faiss.Index) -> None:
        """Settings that are not saved with the index (the query-time beam): set after reading it."""
        return None

    def outgrown(self, index: faiss.Index, count: int) -> bool:
        """True when the index should be built again for `count` vectors (its training is stale)."""
        return False

    def describe(self, index: faiss.Index) -> dict:
        """The kind's parameters, for the manifest and the benchmarks."""
        return {}


def unwrap(index: faiss.Index) -> faiss.Index:
    """The index inside an `IndexIDMap2` (or the index itself), downcast to its type."""
    return faiss.downcast_index(index.index) if hasattr(index, "id_map") else faiss.downcast_index(index)
