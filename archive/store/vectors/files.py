"""Saving and loading a `VectorIndex`: one published version (index file + manifest) at a time.

The files themselves (versions, `current`, atomic writes, crash debris) are `store.manifest`'s.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import faiss
import numpy as np

from archive.errors import DamagedIndex, IndexMismatch
from archive.store.manifest import INDEX_FILE, MANIFEST_FILE, REPAIR, Manifest, publish, published_dir, read_manifest
from archive.store.vectors.factory import kind_of

LOAD_ATTEMPTS = 3  # a reader resolving `current` just before the writer prunes that version tries again


def save(index: faiss.Index, index_dir: Path, manifest: Manifest) -> None:
    """Publish `index` with `manifest` (its counts filled in by the caller) as a new version
    (`store.manifest.publish`: one rename flips it)."""

    def manifest_bytes(index_bytes: int) -> bytes:
        manifest.index_bytes = index_bytes
        return json.dumps(asdict(manifest), indent=2, sort_keys=True).encode()

    # Streamed to the file: serialize_index would hold a second copy of a 1.5 GB index in RAM.
    publish(index_dir, lambda fh: faiss.write_index(index, faiss.PyCallbackIOWriter(fh.write)), manifest_bytes)


def load(index_dir: Path, dim: int, *, mapped: bool) -> tuple[faiss.Index | None, list[int], bool]:
    """The published version's (index or None when there is none yet, its tombstones, whether it is mapped),
    resolved again if it was pruned while being opened."""
    for _ in range(LOAD_ATTEMPTS):
        folder = published_dir(index_dir)
        try:
            return _load_from(index_dir, folder, dim, mapped)
        except DamagedIndex:
            if folder == index_dir or folder.exists() or published_dir(index_dir) == folder:
                raise
            # the version was pruned between resolving `current` and opening it: resolve again
    return _load_from(index_dir, published_dir(index_dir), dim, mapped)


def _load_from(index_dir: Path, folder: Path, dim: int, mapped: bool) -> tuple[faiss.Index | None, list[int], bool]:
    path, shown = folder / INDEX_FILE, index_dir / INDEX_FILE
    manifest = read_manifest(index_dir, folder)
    if not path.exists():
        if manifest is not None and manifest.count > 0:
            raise DamagedIndex(
                f"{shown} is missing but {index_dir / MANIFEST_FILE} records {manifest.count} vectors; {REPAIR}"
            )
        return None, [], False
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
    kind = kind_of(index)
    if kind is None:
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
        tombstones = np.intersect1d(tombstones, kind.ids(index))
    kind.loaded(index)
    return index, tombstones.tolist(), mapped
