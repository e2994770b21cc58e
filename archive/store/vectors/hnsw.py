"""Approximate search on a graph (`IndexHNSWFlat`, inner product, M=32, inside `IndexIDMap2`).

Above `Settings.ann_threshold` vectors. HNSW cannot delete a node, so a removed chunk becomes a
*tombstone*: its id is listed in the manifest and filtered out of every search; the graph is
rebuilt without them (`VectorIndex.compact`) when they pile up and by `archive reindex`.
1,816 bytes per vector at 384 dimensions (bench/ann.py: 1M vectors, recall@10 0.988 in 0.25 ms).
"""

from __future__ import annotations

from collections.abc import Callable

import faiss
import numpy as np

from archive.store.manifest import HNSW
from archive.store.vectors.base import IndexKind, unwrap

HNSW_M = 32  # graph degree: recall/memory trade-off (~260 bytes of links per vector)
HNSW_EF_CONSTRUCTION = 80  # build-time beam; bench/ann.py: 1M vectors in ~5 min, recall@10 0.988 at efSearch 64
HNSW_EF_SEARCH = 64  # query-time beam for k=10: recall@10 0.988 in 0.25 ms on 1M (exact: 103 ms)
MAX_EF_SEARCH = 4096
COMPACT_FRACTION = 0.2  # rebuild the graph when this share of its nodes are tombstones


class Hnsw(IndexKind):
    """A navigable small-world graph over the full vectors; removal by tombstones."""

    name = HNSW
    tombstones = True
    exact_below = 20_000  # read back from memory: cheaper than a graph walk that skips most nodes

    def new(self, dim: int, train: Callable[[int], np.ndarray] | None = None, count: int = 0) -> faiss.Index:
        """An empty id-mapped graph."""
        inner = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = HNSW_EF_SEARCH
        return faiss.IndexIDMap2(inner)

    def owns(self, index: faiss.Index) -> bool:
        """An id-mapped IndexHNSWFlat."""
        return hasattr(index, "id_map") and isinstance(unwrap(index), faiss.IndexHNSWFlat)

    def ids(self, index: faiss.Index) -> np.ndarray:
        """The id map (tombstones included)."""
        return faiss.vector_to_array(index.id_map).astype(np.int64)

    def params(self, index: faiss.Index, k: int, share: float) -> faiss.SearchParameters:
        """A filter hides part of the graph from the result list: widen the beam in proportion.

        2k: with efSearch = k, recall@300 was 0.93 on 1M vectors; a wider beam costs ~1 ms.
        """
        params = faiss.SearchParametersHNSW()
        params.efSearch = int(min(MAX_EF_SEARCH, max(HNSW_EF_SEARCH, 2 * k) / max(share, 1e-3)))
        return params

    def loaded(self, index: faiss.Index) -> None:
        """efSearch is not saved with the graph."""
        unwrap(index).hnsw.efSearch = HNSW_EF_SEARCH

    def describe(self, index: faiss.Index) -> dict:
        """Graph degree and beams."""
        return {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION, "efSearch": HNSW_EF_SEARCH}
