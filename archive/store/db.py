"""Engine, sessions and the schema's migrations (Alembic), for any SQLAlchemy URL the store supports.

Also the facts about the storage an archive is opened on: does a database exist at all, and
can this process write it (a read-only folder or file is opened read-only: `mode=ro`, no WAL
pragma, no migrations).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from archive.errors import ReadOnlyArchive, StorageFull

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import ExceptionContext
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
WRITER_LOCK_KEY = 0x4152434849564531  # the advisory lock of the archive's single writer ("ARCHIVE1")
MIGRATION_LOCK_KEY = 0x4152434849564D31  # the advisory lock of a schema migration ("ARCHIVM1")


def engine_url(url: str) -> str:
    """`url` with PostgreSQL's driver made explicit: psycopg 3 (the one installed), also for `postgresql://`."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for another database or an in-memory one."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def database_exists(url: str) -> bool:
    """True when `url` names a database that holds an archive (for SQLite: its file exists)."""
    path = sqlite_file(url)
    if path is not None:
        return path.is_file()
    if make_url(url).get_backend_name() == "sqlite":
        return False  # in memory: always new
    engine = create_engine(engine_url(url))
    try:
        return inspect(engine).has_table("articles")
    finally:
        engine.dispose()


def storage_writable(folder: Path, url: str) -> bool:
    """False when this process cannot write the data folder or the SQLite file (and the folder of its journals)."""
    path = sqlite_file(url)
    for place in (folder, path, path.parent if path is not None else None):
        if place is not None and place.exists() and not os.access(place, os.W_OK):
            return False
    return True


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout (or, read-only, none of that).

    A full disk or an unwritable file is an ArchiveError of one line naming the database, never
    a driver traceback: the failed transaction is rolled back, every earlier commit stays.
    """
    path = sqlite_file(url)
    engine = _read_only_sqlite(path) if read_only and path is not None else _engine(url)
    where = str(path) if path is not None else make_url(url).render_as_string(hide_password=True)

    @event.listens_for(engine, "handle_error")
    def _storage_errors(context: ExceptionContext) -> None:
        text = str(context.original_exception)
        if "database or disk is full" in text:
            raise StorageFull(
                f"the disk holding {where} is full: this write was rolled back and every earlier commit is kept; "
                "free some space and run it again"
            ) from None
        if "attempt to write a readonly database" in text:
            raise ReadOnlyArchive(f"{where} cannot be written by this user: searching works, writes are refused")

    return engine


def _engine(url: str) -> Engine:
    url = engine_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; WAL keeps it consistent
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    if url.startswith("postgresql"):
        # pre-ping: a pooled connection the server dropped (restart, failover) is replaced, not reported.
        return create_engine(url, pool_pre_ping=True, connect_args={"application_name": "archive"})
    return create_engine(url, pool_pre_ping=True)


def _read_only_sqlite(path: Path) -> Engine:
    """SQLite opened with `mode=ro` and `query_only`: nothing is written, not even the WAL index.

    A WAL database needs its `-shm` file beside it; when nobody has it open and the folder is
    read-only, that file cannot be created, so the database is read as an immutable snapshot
    (a write made later elsewhere is seen after a restart).
    """
    uri = path.resolve().as_uri()

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30, check_same_thread=False)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            conn.close()
            conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        conn.execute("PRAGMA query_only=ON")
        return conn

    return create_engine(f"sqlite:///{path}", creator=connect)


def session_factory(engine: Engine) -> sessionmaker:
    """Sessions that keep loaded attributes after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def _alembic_config(conn: Connection | None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


@cache
def head_revision() -> str:
    """The newest migration (read once per process)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(None)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (None: new, or made before migrations existed)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_behind(engine: Engine) -> str | None:
    """The database's migration when it is not the newest one (None when current)."""
    current = current_revision(engine)
    return None if current == head_revision() else current or "none"


def migrate(engine: Engine) -> bool:
    """Bring the schema to the newest migration; True if anything ran.

    A database made before migrations existed has no version row: the first migration is
    written to be idempotent (create what is missing), so it upgrades from there like a new one.
    """
    if current_revision(engine) == head_revision():
        return False
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # processes opening a new database at once: one migrates, the rest wait
            conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
            if MigrationContext.configure(conn).get_current_revision() == head_revision():
                return False
        command.upgrade(_alembic_config(conn), "head")
    return True


@contextmanager
def writer_lock(engine: Engine, timeout: float) -> Iterator[None]:
    """The database's single-writer lock, held for the block; TimeoutError after `timeout` seconds.

    On PostgreSQL a session advisory lock on a connection of its own: writers on any machine
    sharing the database take turns, and a writer that dies (its connection closes) releases it.
    On SQLite there is none to take: the database is a file beside the data directory, whose
    file lock (taken by the caller) already covers every writer.
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    conn = engine.connect()
    try:
        deadline = time.monotonic() + timeout
        while not conn.scalar(select(func.pg_try_advisory_lock(WRITER_LOCK_KEY))):
            conn.rollback()
            if time.monotonic() >= deadline:
                conn.close()  # the lock was never ours: the connection goes back to the pool as it is
                raise TimeoutError("another writer holds the database's writer lock")
            time.sleep(0.05)
        conn.commit()  # the lock belongs to the session, not to this transaction
    except TimeoutError:
        raise
    except BaseException:
        conn.invalidate()  # interrupted: the lock may be held, and must not stay with a pooled connection
        conn.close()
        raise
    try:
        yield
    finally:
        try:
            conn.scalar(select(func.pg_advisory_unlock(WRITER_LOCK_KEY)))
            conn.commit()
        except BaseException:
            conn.invalidate()  # closing the session is what releases the lock then
            raise
        finally:
            conn.close()
