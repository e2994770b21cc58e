"""Chunk id -> article id, held in memory for the read path.

A chunk never changes article and its id is never reused (AUTOINCREMENT), so a known answer
stays right for the life of the process: the table only grows. It is loaded on first use
(one scan of `chunks`, ~20 ms per 30,000 chunks; 4 bytes per chunk id) and ids it does not know
yet (chunks committed since, by this or another process) are looked up in SQL and added. A
deleted chunk may keep its old entry; callers already drop results whose article is gone.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from sqlalchemy import Engine

from archive.store.reads import chunk_owner_rows

_NONE = 0  # article ids start at 1


class ChunkOwners:
    """The article of each chunk, from a dense in-memory array indexed by chunk id."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._table: np.ndarray | None = None
        self._lock = threading.Lock()

    def lookup(self, chunk_ids: Sequence[int]) -> dict[int, int]:
        """{chunk id: article id} for the given ids; ids with no chunk in SQL are left out."""
        if len(chunk_ids) == 0:
            return {}
        ids = np.asarray(chunk_ids, dtype=np.int64)
        table = self._table if self._table is not None else self._load_all()
        owners = self._known(table, ids)
        missing = ids[owners == _NONE]
        if len(missing):
            table = self._add(missing)
            owners = self._known(table, ids)
        return {int(c): int(a) for c, a in zip(ids, owners, strict=True) if a != _NONE}

    @staticmethod
    def _known(table: np.ndarray, ids: np.ndarray) -> np.ndarray:
        inside = (ids >= 0) & (ids < len(table))
        owners = np.full(len(ids), _NONE, dtype=table.dtype)
        owners[inside] = table[ids[inside]]
        return owners

    def _load_all(self) -> np.ndarray:
        with self._engine.connect() as conn:
            rows = chunk_owner_rows(conn)
        with self._lock:
            if self._table is None:
                self._table = _grown(np.zeros(0, dtype=np.int32), rows)
            return self._table

    def _add(self, missing: np.ndarray) -> np.ndarray:
        with self._engine.connect() as conn:
            rows = chunk_owner_rows(conn, missing.tolist())
        with self._lock:
            assert self._table is not None
            if rows:
                self._table = _grown(self._table, rows)
            return self._table


def _grown(table: np.ndarray, rows: Sequence[tuple[int, int]]) -> np.ndarray:
    """A copy of table large enough for the rows' chunk ids, with their owners written in."""
    if not rows:
        return table
    pairs = np.asarray(rows, dtype=np.int64)
    size = max(len(table), int(pairs[:, 0].max()) + 1)
    out = np.zeros(size, dtype=np.int32)
    out[: len(table)] = table
    out[pairs[:, 0]] = pairs[:, 1]
    return out
