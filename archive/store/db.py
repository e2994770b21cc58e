"""Engine, sessions and the schema's migrations (Alembic), for any SQLAlchemy URL the store supports."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.orm import sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config
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


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout, PostgreSQL psycopg 3."""
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
