"""The `Archive`: one handle on the SQL store, the vector index and the encoder of a data directory.

It reads and it locks; it never writes articles itself (that is `archive.write`), so the
write path can depend on it and not the other way round.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout
from sqlalchemy.orm import Session

from archive.config import Settings
from archive.encoders import Encoder, encoder_family, resolve_encoder, resolve_model, shared_encoder
from archive.errors import Busy, DamagedIndex, IndexMismatch, NoArchive, ReadOnlyArchive
from archive.store import reads, vector_rows
from archive.store.allowed import AllowedChunks
from archive.store.db import (
    database_exists,
    make_engine,
    migrate,
    schema_behind,
    session_factory,
    storage_writable,
    writer_lock,
)
from archive.store.docvalues import DocValues
from archive.store.keyword import keyword_index_for
from archive.store.manifest import published_dir
from archive.store.owners import ChunkOwners
from archive.store.vectors import MANIFEST_FILE, Manifest, VectorIndex, manifest_is_stale, read_manifest

LOCK_FILE = ".write.lock"
RELOAD_CHECK_SECONDS = 1.0  # readers look at the manifest's stamp at most this often (one stat() call)


@dataclass(frozen=True)
class Stats:
    """Counts and sizes of an archive, for `archive stats` and /api/health."""

    articles: int
    chunks: int
    vectors: int
    model: str
    encoder: str
    index_type: str
    dim: int
    disk_bytes: int
    index_dir: str
    problems: list[str] = field(default_factory=list)  # damaged or missing files, each with its repair
    pending_vectors: int = 0  # chunks in SQL without a vector yet (the next write embeds them)

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return dict(self.__dict__)


class Archive:
    """A data directory: SQL (source of truth) + FAISS vectors + the encoder that made them."""

    def __init__(
        self, settings: Settings, *, verify: bool = True, encoder: Encoder | None = None, create: bool = False
    ) -> None:
        self.index_dir = Path(settings.index_dir)
        url = settings.sqlalchemy_url
        if not create and not database_exists(url):
            raise no_archive(self.index_dir)
        # A folder or database this process cannot write is opened read-only: reads work, writes are refused.
        self.read_only = not storage_writable(self.index_dir, url)
        if self.read_only and not database_exists(url):
            raise ReadOnlyArchive(f"cannot create an archive at {self.index_dir}: this user cannot write there")
        try:
            recorded = read_manifest(self.index_dir)
        except DamagedIndex:
            recorded = None  # reported by stats, raised by every use of the vectors, replaced by reindex
        self.settings = settings = settings.with_(
            encoder=resolve_encoder(settings.encoder, recorded.encoder if recorded else None)
        )
        if not self.read_only:
            self.index_dir.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(url, read_only=self.read_only)
        if not self.read_only:
            migrate(self.engine)
        elif (behind := schema_behind(self.engine)) is not None:
            raise ReadOnlyArchive(
                f"the database of {self.index_dir} has schema {behind}, older than this version reads, and it is "
                "read-only here, so it cannot be upgraded: run `archive migrate` as a user who can write it"
            )
        self.sessions = session_factory(self.engine)
        self.keyword = keyword_index_for(self.engine.dialect.name)
        self.chunk_owners = ChunkOwners(self.engine, self.index_dir, writable=not self.read_only)  # shared, mapped
        self.exact_vectors = vector_rows.SqlVectors(self.engine)  # what a compressed index re-ranks with
        self.doc_values = DocValues(self.engine)  # sources, dates, stories, labels by article id, in memory
        fields = tuple(settings.labels.values())
        values = (self.doc_values, self.chunk_owners, fields) if settings.doc_values else None
        self.allowed = AllowedChunks(self.engine, self.keyword, settings.filter_cache, values)  # filters as bitmaps
        self._encoder: Encoder | None = encoder  # may be shared, e.g. one model for a whole test session
        self._vectors: VectorIndex | None = None  # the published index readers search
        self._vectors_stamp: tuple[str, int, int] | None = None  # published version it was loaded or saved at
        self._next_check = 0.0  # monotonic time of the next look at the manifest's stamp
        self._writing = False  # a write of this process holds the locks: its in-memory index is the newest
        self._write_depth = 0  # nested writes of the owning thread
        self._file_lock = FileLock(str(self.index_dir / LOCK_FILE))  # one writer across processes
        # Locks, none of which a search waits on while a write runs (docs/operations.md):
        self._write_mutex = threading.RLock()  # one writer inside this process, held for a whole write
        self._load_lock = threading.Lock()  # one thread loads or saves the index file; others keep the old one
        self._encoder_lock = threading.Lock()  # the model loads once
        self._model_identity = resolve_model(settings.model)  # (name, path, sha256): hashed once per process
        self._verify = verify  # False only to rebuild vectors made by another model (`archive reindex`)
        try:
            migrate(self.engine)
            self._model_identity = resolve_model(settings.model)  # (name, path, sha256): hashed once per process
            self._check_manifest(recorded)
        except BaseException:
            self.engine.dispose()  # a refused archive leaves no connection open
            raise

    def _recorded(self) -> Manifest | None:
        """The manifest on disk; a damaged one is a DamagedIndex, except to `archive reindex` (which replaces it)."""
        try:
            return read_manifest(self.index_dir)
        except DamagedIndex:
            if self._verify:
                raise
            return None

    # -- components -------------------------------------------------------------------------

    @property
    def encoder(self) -> Encoder:
        """The encoder, loaded on first use (once per process)."""
        if self._encoder is None:
            with self._encoder_lock:
                if self._encoder is None:
                    recorded = self._recorded()  # a damaged manifest fails before a model is loaded
                    self._encoder = shared_encoder(self.settings)
                    self._check_manifest(recorded)
        return self._encoder

    @property
    def model_name(self) -> str:
        """Name of the configured model."""
        return self._model_identity[0]

    @property
    def vectors(self) -> VectorIndex:
        """The published vector index, reloaded (at most one check a second) when another process saved a newer one.

        Never waits for a write: a write of this process adds to this same index in short locked
        steps (`VectorIndex.add`), and while a thread loads a newer file the others keep searching
        the one they have.
        """
        current = self._vectors
        if current is not None and (self._writing or time.monotonic() < self._next_check):
            return current
        if not self._load_lock.acquire(blocking=current is None):
            return current  # another thread is checking or loading: search what is published meanwhile
        try:
            return self._reload_if_changed()
        finally:
            self._load_lock.release()

    def _reload_if_changed(self, writable: bool = False) -> VectorIndex:
        """Load the published version when it changed since ours was loaded or saved (holding `_load_lock`).

        Readers memory-map it read-only (processes share its pages); a writer (`writable`) needs its
        own copy in memory to add to.
        """
        current = self._vectors
        if current is not None and self._writing:
            return current  # this process's write holds the newest vectors, saved or not
        writable = writable or self._writing  # the first load inside a write
        self._next_check = time.monotonic() + RELOAD_CHECK_SECONDS
        stamp = self._disk_stamp()  # taken before reading: a save during the load shows as a change next time
        if current is not None and stamp == self._vectors_stamp and not (writable and current.mapped):
            return current
        self._check_manifest(self._recorded())
        fresh = VectorIndex.load(self.index_dir, self._dim(), mapped=not writable, exact=self.exact_vectors)
        self._vectors, self._vectors_stamp = fresh, stamp
        return fresh

    def session(self) -> Session:
        """A new SQL session."""
        return self.sessions()

    def _dim(self) -> int:
        """The dimension the index must have: the loaded model's, else the one the (checked) manifest records."""
        if self._encoder is not None:
            return self._encoder.dim
        manifest = self._recorded()
        return manifest.dim if manifest else self.encoder.dim

    def _disk_stamp(self) -> tuple[str, int, int] | None:
        """The published version (its folder) and its manifest's mtime and size: one readlink and one stat."""
        folder = published_dir(self.index_dir)
        try:
            st = (folder / MANIFEST_FILE).stat()
        except FileNotFoundError:
            return None
        return (folder.name, st.st_mtime_ns, st.st_size)

    def _check_manifest(self, manifest: Manifest | None) -> None:
        """The vectors on disk must come from this model, in this dimension, from this encoder family."""
        if manifest is None or not self._verify:
            return
        name, _, digest = self._model_identity
        manifest.check_compatible(name, digest, self._encoder.dim if self._encoder else manifest.dim)
        if encoder_family(manifest.encoder) != encoder_family(
            self.settings.encoder
        ):  # torch and onnx: the same vectors
            raise IndexMismatch(
                f"the vector index was built with the {manifest.encoder} encoder, not {self.settings.encoder}. "
                f"Use ARCHIVE_ENCODER=auto (the default: an archive is served by an encoder of the kind that built it) "
                f"or {manifest.encoder}, or re-embed it with `ARCHIVE_ENCODER={self.settings.encoder} archive reindex`."
            )

    def new_manifest(self, dim: int | None = None) -> Manifest:
        """A manifest describing the current encoder (keeps the high-water mark on disk)."""
        try:
            old = read_manifest(self.index_dir)
        except DamagedIndex:
            old = None  # only reindex gets here with a damaged one: it rebuilds every vector
        return Manifest(
            model=self.model_name,
            model_sha256=self._model_identity[2],
            dim=dim if dim is not None else self.vectors.dim,
            encoder=self.settings.encoder,
            high_water_chunk_id=old.high_water_chunk_id if old else 0,
        )

    def reset_vectors(self, dim: int | None = None, vectors: VectorIndex | None = None) -> None:
        """Start from an empty vector index of `dim` (default: the encoder's; loads no model when given), or from
        `vectors` (an index built from SQL)."""
        with self._load_lock:
            self._vectors = vectors or VectorIndex(
                dim if dim is not None else self.encoder.dim, exact=self.exact_vectors
            )
            self._vectors_stamp = self._disk_stamp()
            self._verify = True

    def save_vectors(self, high_water_chunk_id: int | None = None) -> None:
        """Persist the vector index and manifest atomically: the step that publishes it to other processes."""
        with self._load_lock:
            vectors = self._vectors if self._vectors is not None else self._reload_if_changed()
            manifest = self.new_manifest(vectors.dim)
            ids = vectors.ids()
            embedded_max = int(ids.max()) if len(ids) else 0
            manifest.high_water_chunk_id = max(manifest.high_water_chunk_id, embedded_max, high_water_chunk_id or 0)
            vectors.save(self.index_dir, manifest)
            self._vectors_stamp = self._disk_stamp()

    @contextmanager
    def locked(self, timeout: float = 10.0) -> Iterator[Archive]:
        """Hold the single-writer locks, starting from the newest vector index on disk.

        Writes are serialised (in this process by a mutex, across processes by the file lock and, on
        PostgreSQL, across machines by the database's advisory lock); readers take none of them, so they go
        on searching the published index meanwhile.
        """
        if not self._write_mutex.acquire(timeout=timeout if timeout >= 0 else -1):
            raise Busy(f"another write is in progress on {self.index_dir}; try again when it ends")
        try:
            try:
                self._file_lock.acquire(timeout=timeout)
            except Timeout as exc:
                raise Busy(
                    f"another process is writing to {self.index_dir} (lock {LOCK_FILE}); try again when it ends"
                ) from exc
            try:
                held = ExitStack()
                if self._write_depth == 0:  # the outermost write of this thread takes the database's lock
                    try:
                        held.enter_context(writer_lock(self.engine, timeout if timeout >= 0 else 10.0))
                    except TimeoutError as exc:
                        raise Busy(
                            "another process is writing to this archive's database; try again when it ends"
                        ) from exc
                    with self._load_lock:
                        if self._vectors is not None:  # another writer may have saved since we loaded
                            self._next_check = 0.0
                            self._reload_if_changed(writable=True)
                        self._writing = True
                self._write_depth += 1
                try:
                    yield self
                finally:
                    self._write_depth -= 1
                    if self._write_depth == 0:
                        self._writing = False
                        self._next_check = 0.0
                    held.close()
            finally:
                self._file_lock.release()
        finally:
            self._write_mutex.release()

    # -- reading -----------------------------------------------------------------------------

    def is_empty(self) -> bool:
        """True when no article is stored."""
        with self.engine.connect() as conn:
            return reads.is_empty(conn)

    def stats(self) -> Stats:
        """Counts, model and disk size; damaged or missing index files are listed in `problems`, not raised.

        The vector count is the manifest's, unless the index file is not the one it describes
        (a crash between the two renames): then the index itself is loaded and counted.
        """
        with self.engine.connect() as conn:
            articles, chunks = reads.counts(conn)
        problems: list[str] = []
        vectors, manifest = 0, None
        try:
            manifest = read_manifest(self.index_dir)
            if manifest is not None:
                vectors = self.vectors.count if manifest_is_stale(self.index_dir, manifest) else manifest.count
        except DamagedIndex as exc:
            problems.append(exc.message)
            vectors = 0
        try:
            pending = len(self.pending_chunk_ids())
        except DamagedIndex:
            pending = chunks  # no usable index: nothing is found by meaning until `archive reindex`
        disk = sum(p.stat().st_size for p in self.index_dir.rglob("*") if p.is_file())
        return Stats(
            articles=articles,
            chunks=chunks,
            vectors=vectors,
            model=self.model_name,
            encoder=self.settings.encoder,
            index_type=manifest.index_type if manifest else "flat",
            dim=manifest.dim if manifest else 0,
            disk_bytes=disk,
            index_dir=str(self.index_dir.resolve()),
            problems=problems,
            pending_vectors=pending,
        )

    def chunk_ids(self) -> np.ndarray:
        """All chunk ids in SQL (int64)."""
        with self.engine.connect() as conn:
            return reads.all_chunk_ids(conn)

    def chunk_vectors(self, chunk_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, exact vectors) of those chunks that have one, in id order: from the loaded index where it holds
        them (flat, HNSW), from SQL for the rest. The read path's way to a few hundred vectors."""
        with self.engine.connect() as conn:
            return vector_rows.held_or_stored(conn, self.vectors.held(chunk_ids), chunk_ids)

    def stored_vectors(self, chunk_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, exact vectors) from SQL of those chunks that have one, in id order (no index involved)."""
        with self.engine.connect() as conn:
            return vector_rows.read_vectors(conn, chunk_ids)

    def pending_chunk_ids(self) -> np.ndarray:
        """Chunk ids in SQL without a vector in the published index: the backlog the next write embeds."""
        sql_ids = self.chunk_ids()
        if not len(sql_ids) or (self._vectors is None and self._recorded() is None):
            return sql_ids  # no index yet (and no need to load the model to learn its dimension)
        return np.setdiff1d(sql_ids, self.vectors.ids(), assume_unique=True)

    def close(self) -> None:
        """Release the database connections."""
        self.doc_values.close()
        self.engine.dispose()


def no_archive(index_dir: Path) -> NoArchive:
    """The error for a data directory without an archive (e.g. a mistyped --index-dir)."""
    return NoArchive(f"no archive at {index_dir}: create one with `archive ingest` or `archive seed`")


def read_only(index_dir: Path) -> ReadOnlyArchive:
    """The error for a write to an archive this process cannot write."""
    return ReadOnlyArchive(
        f"the archive at {index_dir} is read-only (this user cannot write its folder or database): "
        "searching works, writes are refused"
    )


def open_archive(
    settings: Settings | None = None, *, verify: bool = True, encoder: Encoder | None = None, create: bool = False
) -> Archive:
    """Open the archive described by `settings`.

    Reading needs an archive to exist (else NoArchive naming the folder, so a mistyped folder is
    not silently a new empty archive); `create=True` (ingest, seed, tests) makes a new one.
    """
    return Archive(settings or Settings.from_env(), verify=verify, encoder=encoder, create=create)


__all__ = ["Archive", "Stats", "no_archive", "open_archive", "read_only"]
