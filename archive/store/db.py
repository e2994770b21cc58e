"""Engine and schema creation (SQLite pragmas, keyword index)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import sessionmaker

from archive.store.keyword import keyword_index_for
from archive.store.models import Base


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")      # readers never block the writer
            cursor.execute("PRAGMA synchronous=NORMAL")    # durable at checkpoints; WAL keeps it consistent
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def create_schema(engine: Engine) -> None:
    """Create tables and the keyword index if they do not exist."""
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        keyword_index_for(engine.dialect.name).create(conn)


def session_factory(engine: Engine) -> sessionmaker:
    """Sessions that keep loaded attributes after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def json_ids(ids: Iterable[int]) -> str:
    """Ids as a JSON array, for `IN (SELECT value FROM json_each(:ids))` (one bound parameter, any length)."""
    return "[" + ",".join(str(int(i)) for i in ids) + "]"
