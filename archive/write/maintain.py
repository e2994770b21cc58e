"""Keeping SQL and the vector index in agreement: the writer's lock with recovery, backfill, delete and reindex."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from archive.archive import Archive, read_only
from archive.errors import ArchiveError, DamagedIndex, NotFound
from archive.store import vector_rows, writes
from archive.store.reads import find_article
from archive.store.vectors import FLAT, VectorIndex, kind_for, manifest_is_stale, read_manifest, remove_stale_temp_files
from archive.write import stories
from archive.write.embed import IngestProgress, ProgressCallback, Saver, embed_and_add
from archive.write.prepare import embedding_text, title_prefix

RECOVER_STEP_BATCHES = 16  # chunks re-embedded between saves: batch_size * this
RESTORE_STEPS = 16  # chunks copied from SQL per step: that many re-embedding steps (64 * 16 * 16 = 16,384)
BACKFILL_STEP = 10_000  # vectors copied from the index into SQL per transaction


@dataclass
class Recovery:
    """What reconciling SQL and the vector index did."""

    restored: int = 0  # vectors copied from SQL into the index (no model)
    embedded: int = 0  # chunks stored without a vector (archives older than 0004), embedded by the model
    removed: int = 0  # vectors of chunks no longer in SQL
    backfilled: int = 0  # vectors copied from the index into SQL (archives older than 0004, no model)


@contextmanager
def writing(archive: Archive, timeout: float = 10.0, recover_first: bool = True) -> Iterator[Archive]:
    """Hold the single-writer lock; the vectors are reconciled with SQL before any write.

    A missing or damaged index file (with a readable manifest) is rebuilt from SQL here, without
    the model, when SQL holds every chunk's vector.
    """
    if archive.read_only:
        raise read_only(archive.index_dir)
    with archive.locked(timeout) as locked:
        remove_stale_temp_files(locked.index_dir)  # debris of a writer killed mid-save
        if recover_first:
            try:
                recover(locked)
            except DamagedIndex:
                if not _rebuildable(locked):
                    raise
                rebuild_from_sql(locked)
        yield locked


def _rebuildable(archive: Archive) -> bool:
    """True when the index can be rebuilt from SQL alone: a readable manifest, and every chunk has its vector."""
    try:
        if read_manifest(archive.index_dir) is None:
            return False
    except DamagedIndex:
        return False  # then nothing says which model made the stored vectors: `archive reindex --from-sql`
    with archive.engine.connect() as conn:
        return len(vector_rows.ids_without_vector(conn)) == 0


def recover_if_idle(archive: Archive) -> bool:
    """Reconcile SQL and vectors if no other writer is active; False when one is."""
    try:
        with writing(archive, timeout=0):
            return True
    except ArchiveError:
        return False


def recover(archive: Archive, on_progress: ProgressCallback | None = None) -> Recovery:
    """Make FAISS agree with SQL: copy in the vectors it lacks from SQL, drop vectors without chunks.

    Chunks stored before vectors lived in SQL (migration 0004) first get theirs from the index
    (a backfill, no model); only a chunk with a vector in neither place is embedded. Called with
    the write lock held.
    """
    out = Recovery()
    sql_ids = archive.chunk_ids()
    index_ids = archive.vectors.ids()
    orphans = np.setdiff1d(index_ids, sql_ids, assume_unique=True)
    saver = Saver(archive)
    saver.dirty = _manifest_disagrees(archive)
    if len(orphans):
        archive.vectors.remove(orphans)
        saver.dirty = True
    out.removed = len(orphans)
    out.backfilled = backfill(archive)
    missing = np.setdiff1d(sql_ids, index_ids, assume_unique=True)
    step = max(archive.settings.batch_size * RECOVER_STEP_BATCHES, 1) * RESTORE_STEPS
    unstored: list[np.ndarray] = []
    for start in range(0, len(missing), step):
        part = missing[start : start + step]
        with archive.engine.connect() as conn:
            ids, vectors = vector_rows.read_vectors(conn, part.tolist())
        if len(ids):  # published once at the end: no reader sees a partly restored index (28k vectors: 5 s)
            archive.vectors.add(ids, vectors)
            saver.dirty = True
        out.restored += len(ids)
        unstored.append(np.setdiff1d(part, ids, assume_unique=True))
    lacking = np.concatenate(unstored) if unstored else np.zeros(0, dtype=np.int64)
    if len(lacking):
        out.embedded = _embed(archive, lacking, saver, on_progress)
    if saver.dirty or archive.vectors.fit_size(archive.settings.ann_threshold, archive.settings.compress_threshold):
        saver.now()
    return out


def _embed(archive: Archive, chunk_ids: np.ndarray, saver: Saver, on_progress: ProgressCallback | None) -> int:
    """Embed stored chunks with the model (SQL and index), saved every few seconds; returns how many."""
    progress = IngestProgress(chunks_total=len(chunk_ids))
    step = max(archive.settings.batch_size * RECOVER_STEP_BATCHES, 1)
    for start in range(0, len(chunk_ids), step):
        chunks = chunk_inputs(archive, chunk_ids[start : start + step].tolist())
        # Saved every few seconds: other processes see the progress, a crash resumes from the last save.
        embed_and_add(archive, chunks, progress, on_progress, saver=saver)
    return len(chunk_ids)


def backfill(archive: Archive) -> int:
    """Store in SQL the vectors of chunks that have none but are in the index (archives older than 0004).

    No model: the vectors are read back from the FAISS index. Returns how many were stored.
    """
    with archive.engine.connect() as conn:
        lacking = vector_rows.ids_without_vector(conn)
    if not len(lacking):
        return 0
    present = np.intersect1d(lacking, archive.vectors.ids(), assume_unique=True)
    for start in range(0, len(present), BACKFILL_STEP):
        part = present[start : start + BACKFILL_STEP]
        with archive.engine.begin() as conn:
            vector_rows.write_vectors(conn, part.tolist(), archive.vectors.vectors(part))
    return len(present)


def backfill_vectors(archive: Archive) -> int:
    """`backfill` under the writer's lock (for `archive migrate`); returns the vectors stored in SQL."""
    with writing(archive, recover_first=False) as locked:
        return backfill(locked)


def rebuild_from_sql(archive: Archive) -> int:
    """Replace the index by one built from the vectors in SQL (no model); returns the vectors it holds.

    Called with the write lock held. Chunks without a stored vector (older archives whose index is
    lost) are embedded by the model.
    """
    with archive.engine.connect() as conn:
        dim = vector_rows.stored_dim(conn)
        lacking = vector_rows.ids_without_vector(conn)
    stored = np.setdiff1d(archive.chunk_ids(), lacking, assume_unique=True)
    settings = archive.settings
    kind = kind_for(FLAT, len(stored), settings.ann_threshold, settings.compress_threshold)
    # A large archive's index is built as its kind from SQL in batches: never all its vectors in a flat index first.
    archive.reset_vectors(
        dim, VectorIndex.build(dim, kind, stored, archive.exact_vectors) if dim and kind != FLAT else None
    )
    recover(archive)
    archive.save_vectors()
    return archive.vectors.count


def _manifest_disagrees(archive: Archive) -> bool:
    """True when manifest.json does not describe the index in memory (a crash between the index and manifest renames)."""
    try:
        manifest = read_manifest(archive.index_dir)
    except DamagedIndex:
        return True  # only reindex writes over a damaged manifest (every other writer failed loading the vectors)
    if manifest is None:
        return archive.vectors.count > 0
    return manifest.count != archive.vectors.count or manifest_is_stale(archive.index_dir, manifest)


def chunk_inputs(archive: Archive, chunk_ids: list[int]) -> list[tuple[int, str]]:
    """(chunk id, embedding text) for stored chunks, in one query."""
    with archive.engine.connect() as conn:
        rows = writes.chunk_texts(conn, chunk_ids)
    prefixes: dict[str, str] = {}
    out = []
    for cid, text, title in rows:
        if title not in prefixes:
            prefixes[title] = title_prefix(archive, title)[0]
        out.append((cid, embedding_text(prefixes[title], text)))
    return out


def delete_article(archive: Archive, key: str | int) -> str:
    """Delete an article by uid or numeric id, with its chunks and vectors; returns its uid."""
    with writing(archive):
        with archive.session() as s, s.begin():
            row = find_article(s, key)
            if row is not None:  # its near-copy group is formed again without it
                stories.unlink(s.connection(), row.id)
            found = writes.delete_article(s, key)
            if found is None:
                raise NotFound(f"no article with id or uid {str(key)[:80]!r}")
        uid, ids = found
        archive.vectors.remove(ids)
        archive.save_vectors()
    return uid


def reindex(archive: Archive, on_progress: ProgressCallback | None = None, *, from_sql: bool = False) -> int:
    """Rebuild the vector index: from the vectors in SQL (`from_sql`, no model), else by re-embedding every chunk
    with the current encoder (SQL's vectors are replaced too). Returns the vectors written."""
    with writing(archive, recover_first=False):
        if from_sql:
            return rebuild_from_sql(archive)
        archive.reset_vectors()
        with archive.engine.begin() as conn:  # killed midway, the rest is embedded by the next write (same model)
            vector_rows.clear_vectors(conn)
        ids = archive.chunk_ids()
        saver = Saver(archive)
        embedded = _embed(archive, ids, saver, on_progress) if len(ids) else 0
        archive.save_vectors()
    return embedded


def compact(archive: Archive) -> tuple[int, float]:
    """Merge the keyword index's pieces (`KeywordIndex.compact`) under the writer's lock: (pieces, seconds)."""
    with writing(archive, recover_first=False) as locked:
        tick = time.perf_counter()
        with locked.engine.begin() as conn:
            pieces = locked.keyword.compact(conn)
        return pieces, time.perf_counter() - tick
