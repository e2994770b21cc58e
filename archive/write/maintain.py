"""Keeping SQL and the vectors in agreement: the writer's lock with recovery, delete and reindex."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from archive.archive import Archive, read_only
from archive.errors import ArchiveError, DamagedIndex, NotFound
from archive.store import writes
from archive.store.reads import find_article
from archive.store.vectors import manifest_is_stale, read_manifest, remove_stale_temp_files
from archive.write import stories
from archive.write.embed import IngestProgress, ProgressCallback, Saver, embed_and_add
from archive.write.prepare import embedding_text, title_prefix

RECOVER_STEP_BATCHES = 16  # chunks re-embedded between saves: batch_size * this


@contextmanager
def writing(archive: Archive, timeout: float = 10.0, recover_first: bool = True) -> Iterator[Archive]:
    """Hold the single-writer lock; the vectors are reconciled with SQL before any write."""
    if archive.read_only:
        raise read_only(archive.index_dir)
    with archive.locked(timeout) as locked:
        remove_stale_temp_files(locked.index_dir)  # debris of a writer killed mid-save
        if recover_first:
            recover(locked)
        yield locked


def recover_if_idle(archive: Archive) -> bool:
    """Reconcile SQL and vectors if no other writer is active; False when one is."""
    try:
        with writing(archive, timeout=0):
            return True
    except ArchiveError:
        return False


def recover(archive: Archive, on_progress: ProgressCallback | None = None) -> tuple[int, int]:
    """Make FAISS agree with SQL: embed chunks without vectors, drop vectors without chunks.

    Returns (embedded, removed). Called with the write lock held.
    """
    sql_ids = archive.chunk_ids()
    index_ids = archive.vectors.ids()
    missing = np.setdiff1d(sql_ids, index_ids, assume_unique=True)
    orphans = np.setdiff1d(index_ids, sql_ids, assume_unique=True)
    saver = Saver(archive)
    saver.dirty = _manifest_disagrees(archive)
    if len(orphans):
        archive.vectors.remove(orphans)
        saver.dirty = True
    if len(missing):
        progress = IngestProgress(chunks_total=len(missing))
        step = max(archive.settings.batch_size * RECOVER_STEP_BATCHES, 1)
        for start in range(0, len(missing), step):
            chunks = chunk_inputs(archive, missing[start : start + step].tolist())
            # Saved every few seconds: other processes see the progress, a crash resumes from the last save.
            embed_and_add(archive, chunks, progress, on_progress, saver=saver)
    if saver.dirty or archive.vectors.fit_size(archive.settings.ann_threshold):
        saver.now()
    return len(missing), len(orphans)


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


def reindex(archive: Archive, on_progress: ProgressCallback | None = None) -> int:
    """Rebuild the vector index from SQL with the current encoder; returns the vectors written."""
    with writing(archive, recover_first=False):
        archive.reset_vectors()
        embedded, _ = recover(archive, on_progress)
        archive.save_vectors()
    return embedded
