"""The vector index: FAISS inner product over unit vectors, chunk ids as FAISS ids, plus its manifest."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

import faiss
import numpy as np

from archive.errors import IndexMismatch

INDEX_FILE = "vectors.faiss"
MANIFEST_FILE = "manifest.json"
MANIFEST_VERSION = 1


@dataclass
class Manifest:
    """What built the vectors on disk; checked on every load."""

    model: str
    model_sha256: str | None
    dim: int
    encoder: str = "torch"
    metric: str = "inner_product"
    index_type: str = "flat"
    count: int = 0
    high_water_chunk_id: int = 0
    version: int = MANIFEST_VERSION
    extra: dict = field(default_factory=dict)

    def check_compatible(self, model: str, model_sha256: str | None, dim: int, encoder: str) -> None:
        """Raise IndexMismatch when the index was built by another model, dimension or encoder."""
        problems = []
        if self.dim != dim:
            problems.append(f"dimension {self.dim} vs {dim}")
        if self.model != model or (self.model_sha256 and model_sha256 and self.model_sha256 != model_sha256):
            problems.append(f"model {self.model} ({(self.model_sha256 or '?')[:12]}) vs {model} ({(model_sha256 or '?')[:12]})")
        if self.encoder != encoder:
            problems.append(f"encoder {self.encoder} vs {encoder}")
        if problems:
            raise IndexMismatch(
                "the vector index was built with another model: " + "; ".join(problems)
                + ". Use the same settings, or rebuild the vectors with `archive reindex`."
            )


def _atomic_write(path: Path, write) -> None:
    """Write through a temp file in the same folder, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the index is as readable as the database
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_manifest(index_dir: Path) -> Manifest | None:
    """The manifest in `index_dir`, or None when there is none yet."""
    path = index_dir / MANIFEST_FILE
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    known = {f for f in Manifest.__dataclass_fields__}
    return Manifest(**{k: v for k, v in data.items() if k in known})


class VectorIndex:
    """Chunk vectors in FAISS, addressed by chunk id."""

    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        self.dim = dim
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @property
    def count(self) -> int:
        """Number of vectors."""
        return int(self.index.ntotal)

    @property
    def index_type(self) -> str:
        """Short name of the underlying FAISS index."""
        inner = faiss.downcast_index(self.index.index) if hasattr(self.index, "index") else self.index
        return {"IndexFlatIP": "flat", "IndexHNSWFlat": "hnsw"}.get(type(inner).__name__, type(inner).__name__)

    def ids(self) -> np.ndarray:
        """All chunk ids in the index (int64)."""
        return faiss.vector_to_array(self.index.id_map).astype(np.int64) if self.count else np.zeros(0, np.int64)

    def add(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under the given chunk ids."""
        ids = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(f"expected vectors of shape ({len(ids)}, {self.dim}), got {vectors.shape}")
        self.index.add_with_ids(vectors, ids)

    def remove(self, ids: Iterable[int] | np.ndarray) -> int:
        """Remove the vectors of these chunk ids; returns how many were removed."""
        ids = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
        if len(ids) == 0 or self.count == 0:
            return 0
        return int(self.index.remove_ids(faiss.IDSelectorBatch(ids)))

    def search(self, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (chunk id, cosine) for one query vector, optionally only among `allowed_ids`."""
        if self.count == 0 or k <= 0:
            return []
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        params = None
        if allowed_ids is not None:
            if len(allowed_ids) == 0:
                return []
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.asarray(allowed_ids, dtype=np.int64)))
            k = min(k, len(allowed_ids))
        k = min(k, self.count)
        scores, ids = self.index.search(query, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]

    def vectors(self, ids: Iterable[int]) -> np.ndarray:
        """The stored vectors of these chunk ids (each must be present)."""
        ids = list(ids)
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        for row, chunk_id in enumerate(ids):
            out[row] = self.index.reconstruct(int(chunk_id))
        return out

    def save(self, index_dir: Path, manifest: Manifest) -> None:
        """Write the index, then the manifest, each atomically (a crash leaves the old or the new)."""
        manifest.count = self.count
        manifest.index_type = self.index_type
        data = faiss.serialize_index(self.index)
        _atomic_write(index_dir / INDEX_FILE, lambda fh: fh.write(data.tobytes()))
        payload = json.dumps(asdict(manifest), indent=2, sort_keys=True).encode()
        _atomic_write(index_dir / MANIFEST_FILE, lambda fh: fh.write(payload))

    @classmethod
    def load(cls, index_dir: Path, dim: int) -> "VectorIndex":
        """Load the index from `index_dir`, or an empty one when there is no file yet."""
        path = index_dir / INDEX_FILE
        if not path.exists():
            return cls(dim)
        index = faiss.deserialize_index(np.fromfile(path, dtype=np.uint8))
        if index.d != dim:
            raise IndexMismatch(f"{path} holds {index.d}-dimensional vectors, the model makes {dim}; run `archive reindex`")
        return cls(dim, index)
