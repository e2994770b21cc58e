"""Chunk id -> article id for the read path: a memory-mapped file shared by every process, plus what is newer.

A chunk never changes article and its id is never reused (AUTOINCREMENT), so a known answer
stays right for the life of the archive: the table only grows. It is an int32 array indexed by
chunk id (4 bytes per id; 0 = no chunk), written once per archive as `owners/NNNNNNNNNN.i32`
(NNN.. = the highest chunk id it covers) by the first process that needs it (one scan of
`chunks`), then memory-mapped read-only: web workers and replicas on one machine share its pages
instead of each holding and loading its own copy (at 20 M chunks: 80 MB and seconds per worker).

Ids it does not cover yet (chunks committed since, by this or another process) are looked up in
SQL and kept in this process's small overlay; when the overlay passes `REWRITE_AFTER` entries the
file is written again (covering every chunk up to the highest of them: the range past the old table
is read whole, so a table has no hole below its end, which `store.allowed` relies on) and remapped,
and older files are removed (a process still mapping one keeps its pages until it lets go). Files
are written to a temporary name and renamed, so a reader never maps a half-written table. A folder this process cannot write keeps the table
in memory as before. A file is checked against SQL when mapped (its highest chunk's owner), so a
table left behind by a different database is rebuilt, never trusted. A deleted chunk may keep
its old entry; callers already drop results whose article is gone.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sqlalchemy import Engine

from archive.store.reads import chunk_owner_range, chunk_owner_rows, chunk_owner_table

_NONE = 0  # article ids start at 1
FOLDER = "owners"
SUFFIX = ".i32"
WHOLE = ".whole"  # an empty file beside a table with no hole (`ChunkOwners.whole`); older versions wrote none
REWRITE_AFTER = 100_000  # overlay entries (new chunks) before the shared file is written again


class ChunkOwners:
    """The article of each chunk: a shared memory-mapped table, then this process's overlay of newer chunks."""

    def __init__(self, engine: Engine, folder: Path | None = None, writable: bool = True) -> None:
        self._engine = engine
        self._folder = folder / FOLDER if folder is not None else None
        self._writable = writable and folder is not None
        self._table: np.ndarray | None = None  # mapped file (or in memory)
        self._overlay: dict[int, int] = {}  # chunk id -> article id, for ids past the table
        self._whole = False  # the table is known to have no hole below its end
        self._lock = threading.Lock()

    @property
    def mapped(self) -> bool:
        """True when the table is a shared memory-mapped file."""
        return isinstance(self._table, np.memmap)

    @property
    def whole(self) -> bool:
        """True when the table is known to hold every chunk below its end stored when it was written: read
        from SQL, or a file marked so (a table rewritten by an older version may lack some)."""
        self.table()
        return self._whole

    def mark_whole(self, table: np.ndarray) -> None:
        """Record that `table` (if still the current one) has no hole: every chunk below its end is in it or
        gone (a look at every stored id found none missing); its file is marked for other processes."""
        with self._lock:
            if table is not self._table:
                return
            self._whole = True
            name = getattr(table, "filename", None)
            if self._writable and name:
                with contextlib.suppress(OSError):  # else this process knows; others look once themselves
                    Path(name).with_suffix(WHOLE).touch()

    def table(self) -> np.ndarray:
        """The article of every chunk id below the table's length (0: no chunk when it was written; a chunk
        deleted since may keep its entry). Every chunk stored then is in it: the ids past it are newer."""
        return self._table if self._table is not None else self._load()

    def lookup(self, chunk_ids: Sequence[int]) -> dict[int, int]:
        """{chunk id: article id} for the given ids; ids with no chunk in SQL are left out."""
        if len(chunk_ids) == 0:
            return {}
        ids = np.asarray(chunk_ids, dtype=np.int64)
        table = self._table if self._table is not None else self._load()
        owners = _known(table, ids)
        out = {int(c): int(a) for c, a in zip(ids, owners, strict=True) if a != _NONE}
        if len(out) < len(ids):
            self._fill(out, [int(c) for c in ids[owners == _NONE]])
        return out

    def _fill(self, out: dict[int, int], missing: list[int]) -> None:
        """Owners of ids the table lacks: from the overlay, else SQL (then remembered)."""
        unknown = [c for c in missing if c not in self._overlay]
        if unknown:
            with self._engine.connect() as conn:
                rows = chunk_owner_rows(conn, unknown)
            with self._lock:
                self._overlay.update(rows)
                if len(self._overlay) >= REWRITE_AFTER:
                    self._rewrite()
        for c in missing:
            owner = self._overlay.get(c)
            if owner is None and self._table is not None and 0 <= c < len(self._table):
                owner = int(self._table[c]) or None  # folded into a rewritten table meanwhile
            if owner is not None:
                out[c] = owner

    def _load(self) -> np.ndarray:
        with self._lock:
            if self._table is None:
                self._table = self._open_shared() if self._folder is not None else None
                if self._table is None:
                    self._table, self._whole = self._from_sql(), True
                    if self._writable:
                        self._table = self._publish(self._table)
            return self._table

    def _from_sql(self) -> np.ndarray:
        with self._engine.connect() as conn:
            return chunk_owner_table(conn)

    def _open_shared(self) -> np.ndarray | None:
        """The newest table file that agrees with SQL, mapped read-only; None when there is none."""
        assert self._folder is not None
        for path in sorted(self._folder.glob(f"*{SUFFIX}"), reverse=True):
            try:
                table = np.memmap(path, dtype=np.int32, mode="r")
            except (OSError, ValueError):
                continue
            if self._agrees(table):
                self._whole = path.with_suffix(WHOLE).exists()
                return table
            return None  # another database's table: rebuilt (and replaced) from SQL
        return None

    def _agrees(self, table: np.ndarray) -> bool:
        """The table's highest chunk has the owner SQL gives it (one primary-key read)."""
        if len(table) <= 1:
            return False
        last = len(table) - 1
        with self._engine.connect() as conn:
            rows = chunk_owner_rows(conn, [last])
        return bool(rows) and rows[0] == (last, int(table[last]))

    def _publish(self, table: np.ndarray) -> np.ndarray:
        """Write `table` as the shared file, map it, drop older files; the table itself if the write fails."""
        assert self._folder is not None
        if len(table) <= 1:
            return table  # no chunk yet: nothing worth sharing
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
            path = self._folder / f"{len(table) - 1:010d}{SUFFIX}"
            fd, tmp = tempfile.mkstemp(dir=self._folder, prefix=f".{os.getpid()}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(np.ascontiguousarray(table, dtype=np.int32).tobytes())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            if self._whole:
                path.with_suffix(WHOLE).touch()
            for old in [*self._folder.glob(f"*{SUFFIX}"), *self._folder.glob(f"*{WHOLE}")]:
                if old.stem < path.stem:
                    old.unlink(missing_ok=True)
            return np.memmap(path, dtype=np.int32, mode="r")
        except OSError:
            return table

    def _rewrite(self) -> None:
        """Fold the overlay into a new table (shared file when possible). Holding `_lock`."""
        assert self._table is not None
        pairs = np.asarray(list(self._overlay.items()), dtype=np.int64)
        size = max(len(self._table), int(pairs[:, 0].max()) + 1)
        grown = np.zeros(size, dtype=np.int32)
        grown[: len(self._table)] = self._table
        grown[pairs[:, 0]] = pairs[:, 1]
        with self._engine.connect() as conn:  # the ids between the old end and the overlay's, whole
            rows = chunk_owner_range(conn, len(self._table) - 1, size - 1)
        grown[rows[:, 0]] = rows[:, 1]
        self._table = self._publish(grown) if self._writable else grown
        self._overlay = {}


def _known(table: np.ndarray, ids: np.ndarray) -> np.ndarray:
    inside = (ids >= 0) & (ids < len(table))
    owners = np.full(len(ids), _NONE, dtype=np.int32)
    owners[inside] = table[ids[inside]]
    return owners
