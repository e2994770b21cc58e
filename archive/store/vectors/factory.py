"""The kinds of vector index by name, and which one an index of a given size should be.

flat (exact) up to `Settings.ann_threshold` vectors, HNSW above it, compressed (IVF-PQ with
exact re-ranking) above `Settings.compress_threshold`. Going back down waits until the count is
below half the threshold (no flip-flopping around it); a compressed index needs MIN_VECTORS.
"""

from __future__ import annotations

import faiss

from archive.store.manifest import COMPRESSED, FLAT, HNSW
from archive.store.vectors.base import IndexKind
from archive.store.vectors.compressed import MIN_VECTORS, Compressed
from archive.store.vectors.flat import Flat
from archive.store.vectors.hnsw import Hnsw

KINDS: dict[str, IndexKind] = {kind.name: kind for kind in (Flat(), Hnsw(), Compressed())}
ORDER = (FLAT, HNSW, COMPRESSED)  # by the size they are for


def kind_named(name: str) -> IndexKind:
    """The kind called `name`; ValueError for an unknown one."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown index type {name!r}") from None


def kind_of(index: faiss.Index) -> IndexKind | None:
    """The kind of a FAISS index, or None when it is none of the archive's."""
    return next((kind for kind in KINDS.values() if kind.owns(index)), None)


def new_faiss_index(dim: int, index_type: str = FLAT) -> faiss.Index:
    """An empty index of a kind that needs no training (flat, hnsw)."""
    return kind_named(index_type).new(dim)


def kind_for(current: str, count: int, ann_threshold: int, compress_threshold: int | None) -> str:
    """The kind an index of `count` vectors should be, now being `current`."""
    bounds = {HNSW: ann_threshold, COMPRESSED: compress_threshold}
    target = FLAT
    if count > ann_threshold:
        target = HNSW
    if compress_threshold is not None and count > compress_threshold and count >= MIN_VECTORS:
        target = COMPRESSED
    if ORDER.index(target) < ORDER.index(current):  # shrinking: only well below the current kind's threshold
        bound = bounds.get(current)
        if bound is not None and count >= bound // 2:
            return current
    return target
