"""The `Archive`: one handle on the SQL store, the vector index and the encoder of a data directory.

It reads and it locks; it never writes articles itself (that is `archive.write`), so the
write path can depend on it and not the other way round.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout
from sqlalchemy.orm import Session

from archive.config import Settings
from archive.encoders import Encoder, encoder_family, resolve_encoder, resolve_model, shared_encoder
from archive.errors import ArchiveError, IndexMismatch
from archive.store import reads
from archive.store.db import make_engine, migrate, session_factory, writer_lock
from archive.store.keyword import keyword_index_for
from archive.store.owners import ChunkOwners
from archive.store.vectors import MANIFEST_FILE, Manifest, VectorIndex, read_manifest

LOCK_FILE = ".write.lock"


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

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return dict(self.__dict__)


class Archive:
    """A data directory: SQL (source of truth) + FAISS vectors + the encoder that made them."""

    def __init__(self, settings: Settings, *, verify: bool = True, encoder: Encoder | None = None) -> None:
        self.index_dir = Path(settings.index_dir)
        recorded = read_manifest(self.index_dir)
        self.settings = settings = settings.with_(
            encoder=resolve_encoder(settings.encoder, recorded.encoder if recorded else None)
        )
        self.index_dir.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(settings.sqlalchemy_url)
        self.sessions = session_factory(self.engine)
        self.keyword = keyword_index_for(self.engine.dialect.name)
        self.chunk_owners = ChunkOwners(self.engine)  # chunk id -> article id for the read path, in memory
        self._encoder: Encoder | None = encoder  # may be shared, e.g. one model for a whole test session
        self._vectors: VectorIndex | None = None
        self._vectors_stamp: tuple[int, int] | None = None
        self._file_lock = FileLock(str(self.index_dir / LOCK_FILE))
        self._mutex = threading.RLock()  # guards the in-memory FAISS index inside one process
        self._holding = threading.local()  # this thread's depth in locked(): the database lock is taken once
        self._verify = verify  # False only to rebuild vectors made by another model (`archive reindex`)
        try:
            migrate(self.engine)
            self._model_identity = resolve_model(settings.model)  # (name, path, sha256): hashed once per process
            self._check_manifest(recorded)
        except BaseException:
            self.engine.dispose()  # a refused archive leaves no connection open
            raise

    # -- components -------------------------------------------------------------------------

    @property
    def encoder(self) -> Encoder:
        """The encoder, loaded on first use (once per process)."""
        if self._encoder is None:
            with self._mutex:
                if self._encoder is None:
                    self._encoder = shared_encoder(self.settings)
                    self._check_manifest(read_manifest(self.index_dir))
        return self._encoder

    @property
    def model_name(self) -> str:
        """Name of the configured model."""
        return self._model_identity[0]

    @property
    def vectors(self) -> VectorIndex:
        """The vector index, reloaded when another process has saved a newer one."""
        with self._mutex:
            stamp = self._disk_stamp()
            if self._vectors is None or (stamp != self._vectors_stamp and not self._file_lock.is_locked):
                self._check_manifest(read_manifest(self.index_dir))
                self._vectors = VectorIndex.load(self.index_dir, self._dim())
                self._vectors_stamp = stamp
            return self._vectors

    def session(self) -> Session:
        """A new SQL session."""
        return self.sessions()

    def _dim(self) -> int:
        manifest = read_manifest(self.index_dir)
        return manifest.dim if manifest else self.encoder.dim

    def _disk_stamp(self) -> tuple[int, int] | None:
        try:
            st = (self.index_dir / MANIFEST_FILE).stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

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

    def new_manifest(self) -> Manifest:
        """A manifest describing the current encoder (keeps the high-water mark on disk)."""
        old = read_manifest(self.index_dir)
        return Manifest(
            model=self.model_name,
            model_sha256=self._model_identity[2],
            dim=self.vectors.dim,
            encoder=self.settings.encoder,
            high_water_chunk_id=old.high_water_chunk_id if old else 0,
        )

    def reset_vectors(self) -> None:
        """Start from an empty vector index for the current encoder (used by reindex)."""
        with self._mutex:
            self._vectors = VectorIndex(self.encoder.dim)
            self._vectors_stamp = self._disk_stamp()
            self._verify = True

    def save_vectors(self, high_water_chunk_id: int | None = None) -> None:
        """Persist the vector index and manifest atomically."""
        with self._mutex:
            manifest = self.new_manifest()
            ids = self.vectors.ids()
            embedded_max = int(ids.max()) if len(ids) else 0
            manifest.high_water_chunk_id = max(manifest.high_water_chunk_id, embedded_max, high_water_chunk_id or 0)
            self.vectors.save(self.index_dir, manifest)
            self._vectors_stamp = self._disk_stamp()

    @contextmanager
    def locked(self, timeout: float = 10.0) -> Iterator[Archive]:
        """Hold the single-writer lock, starting from the vector index on disk (another writer may have saved).

        The lock is the data directory's lock file (this machine's writers, and its FAISS files)
        plus, on PostgreSQL, the database's advisory lock (writers on every machine).
        """
        try:
            self._file_lock.acquire(timeout=timeout)
        except Timeout as exc:
            raise ArchiveError(
                f"another process is writing to {self.index_dir} (lock {LOCK_FILE}); try again when it ends", status=503
            ) from exc
        depth = getattr(self._holding, "depth", 0)
        try:
            with ExitStack() as held:
                if depth == 0:  # the outermost locked() of this thread takes the database's lock
                    try:
                        held.enter_context(writer_lock(self.engine, timeout))
                    except TimeoutError as exc:
                        raise ArchiveError(
                            "another process is writing to this archive's database; try again when it ends",
                            status=503,
                        ) from exc
                with self._mutex:
                    self._holding.depth = depth + 1
                    if self._vectors is not None and self._disk_stamp() != self._vectors_stamp:
                        self._vectors = None
                    yield self
        finally:
            self._holding.depth = depth
            self._file_lock.release()

    # -- reading -----------------------------------------------------------------------------

    def is_empty(self) -> bool:
        """True when no article is stored."""
        with self.engine.connect() as conn:
            return reads.is_empty(conn)

    def stats(self) -> Stats:
        """Counts, model and disk size."""
        with self.engine.connect() as conn:
            articles, chunks = reads.counts(conn)
        manifest = read_manifest(self.index_dir)
        disk = sum(p.stat().st_size for p in self.index_dir.rglob("*") if p.is_file())
        return Stats(
            articles=articles,
            chunks=chunks,
            vectors=manifest.count if manifest else 0,
            model=self.model_name,
            encoder=self.settings.encoder,
            index_type=manifest.index_type if manifest else "flat",
            dim=manifest.dim if manifest else 0,
            disk_bytes=disk,
            index_dir=str(self.index_dir.resolve()),
        )

    def chunk_ids(self) -> np.ndarray:
        """All chunk ids in SQL (int64)."""
        with self.engine.connect() as conn:
            return reads.all_chunk_ids(conn)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()


def open_archive(settings: Settings | None = None, *, verify: bool = True, encoder: Encoder | None = None) -> Archive:
    """Open (creating if needed) the archive described by `settings`."""
    return Archive(settings or Settings.from_env(), verify=verify, encoder=encoder)


__all__ = ["Archive", "Stats", "open_archive"]
