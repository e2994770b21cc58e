"""The vector index: FAISS inner product over unit vectors, chunk ids as FAISS ids, plus its manifest.

A package in the shape of the keyword index and the encoders: `base.py` (the contract of a kind
of index, and `ExactVectors`, where exact vectors come from), one module per kind, `factory.py`
(the kinds by name, and which one fits an index's size), `index.py` (`VectorIndex`, the one class
the rest of the archive uses), `selection.py` (filters as FAISS id selectors) and `files.py`
(saving and loading a published version). By size:

- ``flat`` (`flat.py`): exact search, up to `Settings.ann_threshold` vectors (1,544 B/vector).
- ``hnsw`` (`hnsw.py`): a graph, above it (1,816 B/vector); removals are tombstones until compaction.
- ``compressed`` (`compressed.py`): IVF-PQ codes, above `Settings.compress_threshold` (~56 B/vector),
  whose candidates are re-ranked with the exact vectors read from SQL.

Its files (the manifest, atomic writes, crash debris) are in `archive.store.manifest`.
"""

from archive.store.manifest import (
    COMPRESSED,
    FLAT,
    HNSW,
    INDEX_FILE,
    MANIFEST_FILE,
    Manifest,
    manifest_is_stale,
    read_manifest,
    remove_stale_temp_files,
)
from archive.store.vectors.base import ArrayVectors, ExactVectors, IndexKind
from archive.store.vectors.factory import KINDS, kind_for, kind_named, kind_of, new_faiss_index
from archive.store.vectors.hnsw import COMPACT_FRACTION, HNSW_EF_SEARCH, HNSW_M
from archive.store.vectors.index import VectorIndex
from archive.store.vectors.selection import Selection

__all__ = [
    "COMPACT_FRACTION",
    "COMPRESSED",
    "FLAT",
    "HNSW",
    "HNSW_EF_SEARCH",
    "HNSW_M",
    "INDEX_FILE",
    "KINDS",
    "MANIFEST_FILE",
    "ArrayVectors",
    "ExactVectors",
    "IndexKind",
    "Manifest",
    "Selection",
    "VectorIndex",
    "kind_for",
    "kind_named",
    "kind_of",
    "manifest_is_stale",
    "new_faiss_index",
    "read_manifest",
    "remove_stale_temp_files",
]
