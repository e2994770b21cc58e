"""Compressed vectors (IVF lists of product-quantised codes), re-ranked with the exact vectors.

Above `Settings.compress_threshold` vectors, where HNSW's 1,816 bytes per vector no longer fit
(20M chunks: 36 GB). `IndexIVFPQ`: k-means splits the space into `nlist` lists (trained on a
sample of the vectors when the index is built), each vector is stored in its list as `dim / 8`
one-byte codes (48 bytes at 384 dimensions) plus its 8-byte id, ~56 bytes per vector in all.
A query scans the `nprobe` nearest lists, takes the best `fetch(k)` candidates by their codes,
and `VectorIndex` re-ranks them by the exact vectors, read from SQL (`chunks.vector`); so the
scores it returns are exact cosines and nothing but the codes and centroids is held in memory.

Removal deletes the codes (`remove_ids`), so no tombstones. The centroids are fixed when the
index is built; when the archive has grown 4x since, the writer builds it again (`outgrown`).
The figures behind each constant: docs/performance.md#compressed-vectors.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import faiss
import numpy as np

from archive.store.manifest import COMPRESSED
from archive.store.vectors.base import IndexKind, unwrap

DIMS_PER_CODE = 8  # one byte of code per 8 dimensions: 48 bytes at 384 (PQ48)
CODE_BITS = 8
LISTS_PER_ROOT = 4  # nlist ~ 4 sqrt(n), a power of two: 4,096 lists at 1M vectors
MIN_LISTS, MAX_LISTS = 16, 65_536
POINTS_PER_LIST = 39  # k-means wants at least this many training vectors per list
TRAIN_PER_LIST = 64  # training sample: 64 vectors per list (262,144 at 4,096 lists)
PROBE_SHARE = 1 / 32  # lists scanned per query: 128 of 4,096 (real vectors need more than the synthetic bench)
MIN_PROBE = 128  # and never fewer (real Reuters vectors, 512 lists: nprobe 64 recall@10 0.971, 128: 0.983)
RERANK_FACTOR = 4  # candidates re-ranked exactly: max(4k, 100); 100 for k=10, 1,200 for search's 300
MIN_RERANK = 100
EXACT_BELOW = 2_000  # a filter this narrow is re-ranked whole from SQL (1.5 MB of float16) instead of scanned
MIN_VECTORS = 1_000  # fewer than this are never compressed (PQ's 256 centroids need the points)


def lists_for(count: int) -> int:
    """nlist for `count` vectors: ~4 sqrt(n) rounded to a power of two, with enough points per list."""
    target = 2 ** round(math.log2(max(LISTS_PER_ROOT * math.sqrt(max(count, 1)), 1)))
    return int(max(1, min(MAX_LISTS, max(MIN_LISTS, target), count // POINTS_PER_LIST)))


def code_bytes(dim: int) -> int:
    """PQ sub-quantisers: ~dim / 8, a divisor of dim."""
    m = max(1, dim // DIMS_PER_CODE)
    while dim % m:
        m -= 1
    return m


def probes(nlist: int) -> int:
    """nprobe for an index of `nlist` lists."""
    return int(min(nlist, max(MIN_PROBE, round(nlist * PROBE_SHARE))))


class Compressed(IndexKind):
    """IVF-PQ codes; exact scores come from re-ranking (`VectorIndex._rerank`)."""

    name = COMPRESSED
    exact = False
    exact_below = EXACT_BELOW

    def new(self, dim: int, train: Callable[[int], np.ndarray] | None = None, count: int = 0) -> faiss.Index:
        """A trained, empty IVF-PQ index for about `count` vectors (training draws its sample from `train`)."""
        if train is None or count < MIN_VECTORS:
            raise ValueError(f"a compressed index is trained on its vectors: at least {MIN_VECTORS:,} are needed")
        nlist = lists_for(count)
        spec = f"IVF{nlist},PQ{code_bytes(dim)}x{CODE_BITS}"
        index = faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)  # an IndexIVFPQ (owns its quantiser)
        index.do_polysemous_training = False  # (the factory turns it on) codes are re-ranked, not compared
        index.cp.seed = index.pq.cp.seed = 1234  # the same vectors train the same index
        index.train(np.ascontiguousarray(train(min(count, TRAIN_PER_LIST * nlist)), dtype=np.float32))
        index.nprobe = probes(nlist)
        return index

    def owns(self, index: faiss.Index) -> bool:
        """An IndexIVFPQ (ids live in its lists: no id map)."""
        return isinstance(faiss.downcast_index(index), faiss.IndexIVFPQ)

    def ids(self, index: faiss.Index) -> np.ndarray:
        """The ids of every list, list by list."""
        ivf = unwrap(index)
        lists = ivf.invlists
        parts = []
        for no in range(ivf.nlist):
            size = lists.list_size(no)
            if size:
                pointer = lists.get_ids(no)
                parts.append(faiss.rev_swig_ptr(pointer, size).astype(np.int64))
                lists.release_ids(no, pointer)
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def reconstruct(self, index: faiss.Index, ids: np.ndarray) -> np.ndarray:
        """Codes are not vectors: the exact ones come from the index's ExactVectors."""
        raise RuntimeError("a compressed index holds codes, not vectors: read them from the exact source")

    def params(self, index: faiss.Index, k: int, share: float) -> faiss.SearchParameters:
        """Scan more lists when a filter hides part of each (1/share as many, up to all)."""
        nlist = unwrap(index).nlist
        params = faiss.SearchParametersIVF()
        params.nprobe = int(min(nlist, math.ceil(probes(nlist) / max(share, 1e-6))))
        return params

    def fetch(self, k: int) -> int:
        """k x RERANK_FACTOR candidates (at least MIN_RERANK), re-ranked to k."""
        return max(k * RERANK_FACTOR, MIN_RERANK)

    def loaded(self, index: faiss.Index) -> None:
        """nprobe is saved with the index; set it to this version's rule anyway."""
        ivf = unwrap(index)
        ivf.nprobe = probes(ivf.nlist)

    def outgrown(self, index: faiss.Index, count: int) -> bool:
        """Trained for a quarter of today's vectors or fewer (its lists are 4x too full): build it again."""
        return lists_for(count) >= 2 * unwrap(index).nlist

    def describe(self, index: faiss.Index) -> dict:
        """nlist, nprobe, code size and the re-rank rule."""
        ivf = unwrap(index)
        return {
            "nlist": int(ivf.nlist),
            "nprobe": probes(ivf.nlist),
            "code": f"PQ{ivf.pq.M}x{ivf.pq.nbits}",
            "rerank": f"max({RERANK_FACTOR}k, {MIN_RERANK})",
        }
