"""Given paths -> the files to read: folder walking, sidecar skipping, each file once; and the record estimate."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from archive.documents import Article, ReadFailure
from archive.readers.formats import _READERS, _SIDECAR, _read_file

_DANGLING = "broken or looping symlink"
# stat() through a symlink fails with these when the link, not a permission, is the problem.
_DANGLING_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP})


def read_paths(paths: Iterable[str | Path], source: str | None = None) -> Iterator[Article | ReadFailure]:
    """Yield an Article or ReadFailure per record in the given files and folders (lazily).

    Folders are walked recursively in name order; hidden files and folders (".name") and
    symlinked folders are skipped, as are files with an unsupported suffix and sidecar
    files (`<file>.meta.json` next to an existing `<file>`). A file named explicitly with an
    unsupported suffix is a ReadFailure. A file reached twice is read once. A broken or
    looping symlink with a supported suffix (or named explicitly) is a ReadFailure, and
    the walk goes on with the rest of its folder.
    `source` (the CLI's `--source`) only fills in the outlet of records that name none:
    a record's own source/publisher/outlet always wins.
    """
    for item in _files(paths):
        if isinstance(item, ReadFailure):
            yield item
        else:
            yield from _read_file(item, source)


def estimate_records(paths: Iterable[str | Path]) -> int:
    """About how many records `read_paths` will yield, found quickly (for a progress bar's ETA).

    Counts the non-blank lines of JSON Lines and CSV files (minus a CSV header) and one
    record per other file; a JSON array counts as one. Never raises.
    """
    return sum(_records_in(item) for item in _files(paths) if not isinstance(item, ReadFailure))


def _files(paths: Iterable[str | Path]) -> Iterator[Path | ReadFailure]:
    """The files behind the given paths, each once, or why a path cannot be used."""
    seen: set[Path] = set()
    for given in paths:
        if not str(given).strip():  # Path("") would silently mean the current folder
            yield ReadFailure(repr(str(given)), "empty path")
            continue
        for item in _expand(Path(given)):
            if isinstance(item, ReadFailure):
                yield item
                continue
            key = _identity(item)
            if key not in seen:
                seen.add(key)
                yield item


def _records_in(path: Path) -> int:
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".csv"):
        return 1
    try:
        with path.open("rb") as fh:
            lines = sum(1 for line in fh if line.strip())
    except OSError:
        return 1
    return max(lines - (suffix == ".csv"), 1)


def _expand(path: Path) -> Iterator[Path | ReadFailure]:
    """Turn one given path into the files to read (or a failure if it cannot be used)."""
    origin = str(path)
    try:
        if path.is_dir():
            yield from _walk(path)
        elif path.is_file():
            if not _is_sidecar(path):
                yield path
        elif path.exists():
            yield ReadFailure(origin, "not a regular file")
        elif path.is_symlink():  # is_dir/is_file/exists are all False for these
            yield ReadFailure(origin, _DANGLING)
        else:
            yield ReadFailure(origin, "no such file or directory")
    except OSError as exc:
        yield ReadFailure(origin, f"cannot access: {exc.strerror or exc}")


def _walk(folder: Path) -> Iterator[Path | ReadFailure]:
    """Yield supported files under `folder`, depth first in name order, skipping hidden names."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        yield ReadFailure(str(folder), f"cannot list folder: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = folder / entry.name
        supported = path.suffix.lower() in _READERS
        # Per entry: one entry that cannot be examined must not end the walk of the rest.
        try:
            kind = _kind(entry)
            sidecar = kind == "file" and supported and _is_sidecar(path)
        except OSError as exc:
            yield ReadFailure(str(path), f"cannot access: {exc.strerror or exc}")
            continue
        if kind == "folder":
            yield from _walk(path)
        elif not supported or sidecar or kind == "other":
            continue
        elif kind == "dangling":
            yield ReadFailure(str(path), _DANGLING)
        else:
            yield path


def _kind(entry: os.DirEntry[str]) -> str:
    """Classify an entry: "folder", "file", "dangling" (a symlink to nothing, or looping) or "other".

    Symlinked folders are "other": they are not followed, as they can loop back on themselves.
    DirEntry.is_file() would raise ELOOP out of the walk for a looping link and return False for
    a broken one, so a symlink's target is stat-ed here instead. Other OSErrors are raised.
    """
    if entry.is_dir(follow_symlinks=False):
        return "folder"
    if not entry.is_symlink():
        return "file" if entry.is_file(follow_symlinks=False) else "other"
    try:
        target = os.stat(entry.path)
    except OSError as exc:
        if exc.errno in _DANGLING_ERRNOS:
            return "dangling"
        raise
    return "file" if stat.S_ISREG(target.st_mode) else "other"


def _is_sidecar(path: Path) -> bool:
    """True for `<file>.meta.json` when `<file>` exists: it is metadata, not an article."""
    name = path.name
    if not name.lower().endswith(_SIDECAR) or len(name) == len(_SIDECAR):
        return False
    return path.with_name(name[: -len(_SIDECAR)]).is_file()


def _identity(path: Path) -> Path:
    """A key under which the same file named twice (relative, absolute, via folder) compares equal."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # Python < 3.13 raises RuntimeError for a symlink loop
        return path.absolute()
