"""The files of the vector index: published versions, `manifest.json` (what built the vectors), crash debris.

Every save publishes a new version: `versions/NNNNNNNN/` holds its `vectors.faiss` and its
`manifest.json`, both written and fsynced in a temporary folder renamed into place; then the
symbolic link `current` is flipped to it in one rename. So a reader resolves `current` once and
reads an index and a manifest that always belong together, and a crash before the flip leaves
the previous version published, whole. `vectors.faiss` and `manifest.json` at the top of the
data directory are links through `current` (the names operators and older tools know). The
writer keeps the current and the previous version and removes older ones: a reader still
searching a removed version keeps its open (memory-mapped) file until it moves on.

An archive saved before versions existed has the two files themselves at the top (the manifest
recording the index's byte size, to detect a crash between their two renames); it is read as
it is, and its next save publishes version 1. A damaged or missing file is a `DamagedIndex`
naming it and the repair, `archive reindex --from-sql`.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from archive.errors import DamagedIndex, IndexMismatch, StorageFull

INDEX_FILE = "vectors.faiss"
MANIFEST_FILE = "manifest.json"
MANIFEST_VERSION = 1
VERSIONS_DIR = "versions"
CURRENT = "current"  # symbolic link to versions/NNNNNNNN: the published version
KEEP_VERSIONS = 2  # the current version and the one before it
FLAT = "flat"  # the index types (see archive.store.vectors)
HNSW = "hnsw"
COMPRESSED = "compressed"
REPAIR = "rebuild the index from the database with `archive reindex --from-sql` (no model; `archive reindex` re-embeds)"
_PROCESS_STARTED = time.time()  # temporary files older than this process and without a live writer are debris


@dataclass
class Manifest:
    """What built the vectors on disk; checked on every load."""

    model: str
    model_sha256: str | None
    dim: int
    encoder: str = "torch"
    metric: str = "inner_product"
    index_type: str = FLAT
    count: int = 0
    high_water_chunk_id: int = 0
    version: int = MANIFEST_VERSION
    tombstones: list[int] = field(default_factory=list)  # removed ids still inside an HNSW graph
    # extra["index"]: the kind's parameters (HNSW's M and beams; a compressed index's lists, code and re-rank)
    extra: dict = field(default_factory=dict)
    index_bytes: int | None = None  # size of the vectors.faiss this manifest describes (None: written before it was)

    def check_compatible(self, model: str, model_sha256: str | None, dim: int) -> None:
        """Raise IndexMismatch when the index was built by another model or in another dimension."""
        problems = []
        if self.dim != dim:
            problems.append(
                f"the index holds {self.dim}-dimensional vectors, the model {model} makes {dim}-dimensional ones"
            )
        if self.model != model or (self.model_sha256 and model_sha256 and self.model_sha256 != model_sha256):
            problems.append(
                f"the index was made by {self.model} ({(self.model_sha256 or '?')[:12]}), "
                f"the configured model is {model} ({(model_sha256 or '?')[:12]})"
            )
        if problems:
            raise IndexMismatch(
                "the vector index was built with another model: "
                + "; ".join(problems)
                + ". Use the same settings, or rebuild the vectors with `archive reindex`."
            )


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "model": (str,),
    "model_sha256": (str, type(None)),
    "dim": (int,),
    "encoder": (str,),
    "metric": (str,),
    "index_type": (str,),
    "count": (int,),
    "high_water_chunk_id": (int,),
    "version": (int,),
    "tombstones": (list,),
    "extra": (dict,),
    "index_bytes": (int, type(None)),
}


def _manifest_fault(data: object) -> str | None:
    """What is wrong with a parsed manifest, or None."""
    if not isinstance(data, dict):
        return f"a JSON object was expected, not {type(data).__name__}"
    missing = [name for name in ("model", "dim") if name not in data]
    if missing:
        return "missing " + ", ".join(missing)
    for name, types in _FIELD_TYPES.items():
        value = data.get(name)
        if name in data and (not isinstance(value, types) or isinstance(value, bool)):
            return f"{name} is {json.dumps(value)[:40]}"
    numbers = {"dim": data["dim"], **{k: data[k] for k in ("count", "high_water_chunk_id", "index_bytes") if k in data}}
    negative = [k for k, v in numbers.items() if v is not None and (v < 0 or (k == "dim" and v == 0))]
    if negative:
        return f"{negative[0]} is {numbers[negative[0]]}"
    if data.get("index_type", FLAT) not in (FLAT, HNSW, COMPRESSED):
        return f"unknown index_type {str(data['index_type'])[:40]!r}"
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in data.get("tombstones", [])):
        return "tombstones are not all chunk ids"
    return None


def atomic_write(path: Path, write: Callable[[BinaryIO], object], shown: Path | None = None) -> int:
    """Write through a temp file in the same folder, fsync, then rename over `path`; returns the bytes written.

    The temp file is named `.NAME.PID.RANDOM.tmp`, so a later writer can tell a dead writer's debris.
    A full disk is a StorageFull error (the old file stays in place).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
            size = fh.tell()
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the index is as readable as the database
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull(
                f"the disk holding {shown or path} is full: it was not saved (the old one stays); the database keeps "
                "every committed article with its vectors, and the next write copies what the index lacks from it"
            ) from None
        raise
    return size


def _writer_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def remove_stale_temp_files(index_dir: Path) -> list[Path]:
    """Delete temporary index and manifest files left by writers that died mid-save; returns them.

    A file naming a live process is kept (it may be that process's save in progress); one
    without a pid (older builds) is removed only when it is older than this process.
    """
    removed = []
    candidates = [
        (name, path)
        for name in (INDEX_FILE, MANIFEST_FILE, CURRENT)
        for path in [*index_dir.glob(f".{name}.*.tmp"), *(published_dir(index_dir).glob(f".{name}.*.tmp"))]
    ]
    candidates += [(path.name[1:9], path) for path in (index_dir / VERSIONS_DIR).glob(".*.tmp")]  # staged versions
    for name, path in dict.fromkeys(candidates):
        pid = path.name[len(name) + 2 :].split(".", 1)[0]
        try:
            stale = not _writer_alive(int(pid)) if pid.isdigit() else path.lstat().st_mtime < _PROCESS_STARTED
            if stale:
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
                removed.append(path)
        except (FileNotFoundError, ValueError):
            continue
    return removed


def published_dir(index_dir: Path) -> Path:
    """The folder of the published version (resolve once, read both files from it); `index_dir` itself for an
    archive saved before versions existed."""
    try:
        return index_dir / os.readlink(index_dir / CURRENT)
    except OSError:  # no link (yet): the files at the top, if any
        return index_dir


def publish(index_dir: Path, write_index: Callable[[BinaryIO], object], manifest_bytes: Callable[[int], bytes]) -> Path:
    """Write a new version (the index, then its manifest made from the index's byte size) and flip `current` to it.

    Returns the version's folder. A failure (a full disk) removes the half-written version; the
    published one stays. Called by the single writer only.
    """
    versions = index_dir / VERSIONS_DIR
    versions.mkdir(parents=True, exist_ok=True)
    numbers = [int(p.name) for p in versions.iterdir() if p.name.isdigit()]
    name = f"{max(numbers, default=0) + 1:08d}"
    staging = Path(tempfile.mkdtemp(dir=versions, prefix=f".{name}.{os.getpid()}.", suffix=".tmp"))
    try:
        size = atomic_write(staging / INDEX_FILE, write_index, index_dir / INDEX_FILE)
        atomic_write(staging / MANIFEST_FILE, lambda fh: fh.write(manifest_bytes(size)), index_dir / MANIFEST_FILE)
        os.chmod(staging, 0o755)  # mkdtemp makes 0700; the index is as readable as the database
        os.rename(staging, versions / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_dir(versions)
    _replace_with_link(index_dir / CURRENT, f"{VERSIONS_DIR}/{name}")  # the one rename that publishes
    for top in (INDEX_FILE, MANIFEST_FILE):  # the names at the top follow `current`
        if not (index_dir / top).is_symlink():
            _replace_with_link(index_dir / top, f"{CURRENT}/{top}")
    prune_versions(index_dir)
    return versions / name


def _replace_with_link(path: Path, target: str) -> None:
    """Make `path` a symbolic link to `target` in one rename (readers see the old or the new, never neither)."""
    tmp = path.parent / f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    os.symlink(target, tmp)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def prune_versions(index_dir: Path) -> list[Path]:
    """Remove versions other than the current one and the one before it (and unpublished ones); returns them."""
    versions = index_dir / VERSIONS_DIR
    current = published_dir(index_dir)
    if current == index_dir or not versions.is_dir():
        return []
    published = sorted(int(p.name) for p in versions.iterdir() if p.name.isdigit() and int(p.name) <= int(current.name))
    keep = {f"{n:08d}" for n in published[-KEEP_VERSIONS:]}
    removed = []
    for path in versions.iterdir():
        if path.name.isdigit() and path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def read_manifest(index_dir: Path, folder: Path | None = None) -> Manifest | None:
    """The published manifest of `index_dir` (or the one in a version's `folder`), or None when there is none yet;
    DamagedIndex when it cannot be trusted."""
    shown = index_dir / MANIFEST_FILE  # named in errors by the path operators know
    path = (folder or published_dir(index_dir)) / MANIFEST_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_bytes())
    except ValueError as exc:  # JSONDecodeError or UnicodeDecodeError
        fault: str | None = f"not JSON: {exc}"
    else:
        fault = _manifest_fault(data)
    if fault is not None:
        raise DamagedIndex(f"{shown} is damaged ({fault}); {REPAIR}")
    known = set(Manifest.__dataclass_fields__)
    return Manifest(**{k: v for k, v in data.items() if k in known})


def manifest_is_stale(index_dir: Path, manifest: Manifest) -> bool:
    """True when vectors.faiss is not the file `manifest` describes (a crash between the two renames, or damage)."""
    if manifest.index_bytes is None:
        return False  # written before sizes were recorded: nothing to compare
    try:
        return (published_dir(index_dir) / INDEX_FILE).stat().st_size != manifest.index_bytes
    except FileNotFoundError:
        return manifest.count > 0
