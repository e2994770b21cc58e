"""Chunk vectors in SQL (`chunks.vector`): the source of truth the FAISS index is rebuilt from.

A vector is stored as little-endian float16 bytes (dim * 2 bytes: 768 for 384 dimensions). The
index holds exactly these rounded values too (`rounded`), so an index built while writing and one
rebuilt from SQL on another machine are the same index.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from sqlalchemy import Connection, Engine, bindparam, func, select, update

from archive.store.models import ChunkRow
from archive.store.reads import batches
from archive.store.vectors.base import ExactVectors

STORED = np.dtype("<f2")
READ_BATCH = 20_000  # rows per statement when rebuilding (20,000 x 768 bytes: 15 MB)


def to_blob(vector: np.ndarray) -> bytes:
    """One vector as stored."""
    return np.asarray(vector, dtype=STORED).tobytes()


def rounded(vectors: np.ndarray) -> np.ndarray:
    """The vectors as SQL holds them, back in float32 (what the index is built from)."""
    return np.asarray(vectors, dtype=np.float32).astype(STORED).astype(np.float32)


def from_blobs(blobs: Sequence[bytes], dim: int | None = None) -> np.ndarray:
    """Stored vectors -> an (n, dim) float32 matrix."""
    if not blobs:
        return np.zeros((0, dim or 0), dtype=np.float32)
    flat = np.frombuffer(b"".join(blobs), dtype=STORED)
    return flat.reshape(len(blobs), -1).astype(np.float32)


def read_vectors(conn: Connection, chunk_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of those chunks that have a stored vector, in ascending id order."""
    ids: list[int] = []
    blobs: list[bytes] = []
    for part in batches(sorted(int(i) for i in chunk_ids)):
        for cid, blob in conn.execute(
            select(ChunkRow.id, ChunkRow.vector)
            .where(ChunkRow.id.in_(part), ChunkRow.vector.is_not(None))
            .order_by(ChunkRow.id)
        ):
            ids.append(int(cid))
            blobs.append(bytes(blob))
    return np.asarray(ids, dtype=np.int64), from_blobs(blobs)


def held_or_stored(
    conn: Connection, held: tuple[np.ndarray, np.ndarray], chunk_ids: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """`read_vectors` of `chunk_ids`, reading from SQL only the ones `held` (ids, vectors: an index's) lacks."""
    ids, matrix = held
    rest = sorted({int(i) for i in chunk_ids}.difference(ids.tolist()))
    if not rest:
        return ids, matrix
    more_ids, more = read_vectors(conn, rest)
    if not len(more_ids):
        return ids, matrix
    if not len(ids):
        return more_ids, more
    both = np.concatenate([ids, more_ids])
    order = np.argsort(both, kind="stable")
    return both[order], np.vstack([matrix, more])[order]


def iter_all_vectors(conn: Connection, size: int = READ_BATCH) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every stored vector as (ids, vectors) batches in id order (keyset paging: no OFFSET)."""
    after = 0
    while True:
        rows = conn.execute(
            select(ChunkRow.id, ChunkRow.vector)
            .where(ChunkRow.id > after, ChunkRow.vector.is_not(None))
            .order_by(ChunkRow.id)
            .limit(size)
        ).all()
        if not rows:
            return
        after = int(rows[-1][0])
        yield np.asarray([r[0] for r in rows], dtype=np.int64), from_blobs([bytes(r[1]) for r in rows])


def ids_without_vector(conn: Connection) -> np.ndarray:
    """Chunks with no stored vector (archives older than migration 0004, before their backfill)."""
    return np.asarray(list(conn.scalars(select(ChunkRow.id).where(ChunkRow.vector.is_(None)))), dtype=np.int64)


def stored_dim(conn: Connection) -> int | None:
    """The dimension of the stored vectors (from one row), or None when none is stored."""
    size = conn.scalar(select(func.length(ChunkRow.vector)).where(ChunkRow.vector.is_not(None)).limit(1))
    return int(size) // STORED.itemsize if size else None


def write_vectors(conn: Connection, chunk_ids: Sequence[int], vectors: np.ndarray) -> None:
    """Store vectors of existing chunks (backfill, re-embedding). Caller commits."""
    if not len(chunk_ids):
        return
    table = ChunkRow.__table__
    statement = update(table).where(table.c.id == bindparam("cid")).values(vector=bindparam("blob"))
    conn.execute(statement, [{"cid": int(c), "blob": to_blob(v)} for c, v in zip(chunk_ids, vectors, strict=True)])


def clear_vectors(conn: Connection) -> None:
    """Forget every stored vector (before re-embedding with another model: a kill midway must not leave the old
    model's vectors to be copied into the new index). Caller commits."""
    conn.execute(update(ChunkRow.__table__).values(vector=None))


class SqlVectors(ExactVectors):
    """The exact vectors of an archive's chunks, read from SQL: what a compressed index re-ranks with."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def read(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ids found, ascending; their vectors) by primary key."""
        with self.engine.connect() as conn:
            return read_vectors(conn, np.asarray(ids, dtype=np.int64).tolist())

    def scan(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every stored vector in id order, in batches."""
        with self.engine.connect() as conn:
            yield from iter_all_vectors(conn)
