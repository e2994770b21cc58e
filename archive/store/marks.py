"""Has anything been committed since the last look? The doc values' (`docvalues.py`) two cheap tests of that.

- `CommitWatch`: one trivial statement per search. SQLite's `PRAGMA data_version`, on a connection held for
  it, moves when another connection commits; PostgreSQL's write-ahead log position (a standby's: how far it
  has replayed) moves with every commit that changes a row, and with unrelated writes too (checkpoints,
  vacuum), which only cost a needless `read_mark`.
- `Mark`: what a snapshot was read at, read when the watch moved (`read_mark`, one statement per table).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text

from archive.store.models import ArticleRow, ChunkRow, SignatureRow, ThreadRow

MOD = 65_521  # story and thread checksums: sum of (story mod p) * (article mod p), small enough never to overflow
WAL_POSITION = "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text"


@dataclass(frozen=True)
class Mark:
    """What a snapshot was read at: (highest article id, articles, highest chunk id, story and thread checksums)."""

    max_article: int
    articles: int
    max_chunk: int
    stories: tuple[int, int, int]
    threads: tuple[int, int, int]


def read_mark(conn: Connection) -> Mark:
    """The archive's mark."""
    s = SignatureRow.__table__.c
    stories = select(
        func.count(s.story_id),
        func.coalesce(func.sum(s.story_id), 0),
        func.coalesce(func.sum((s.story_id % MOD) * (s.article_id % MOD)), 0),
    ).where(s.story_id.is_not(None))
    row = conn.execute(
        select(
            select(func.max(ArticleRow.id)).scalar_subquery(),
            select(func.count()).select_from(ArticleRow).scalar_subquery(),
            select(func.max(ChunkRow.id)).scalar_subquery(),
        )
    ).one()
    story = conn.execute(stories).one()
    t = ThreadRow.__table__.c
    threads = select(
        func.count(),
        func.coalesce(func.sum(t.thread_id), 0),
        func.coalesce(func.sum((t.thread_id % MOD) * (t.article_id % MOD)), 0),
    )
    thread = conn.execute(threads).one()
    return Mark(
        int(row[0] or 0),
        int(row[1] or 0),
        int(row[2] or 0),
        (int(story[0]), int(story[1]), int(story[2])),
        (int(thread[0]), int(thread[1]), int(thread[2])),
    )


class CommitWatch:
    """`moved()`: True unless the database says nothing was committed since the last call (the first call: True)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._held: Any = None  # SQLite: a DBAPI connection held to read `PRAGMA data_version`
        self._version: Any = None

    def moved(self) -> bool:
        """Read before the mark, so that a commit in between is seen by the next call."""
        if self._engine.dialect.name != "sqlite":
            with self._engine.connect() as conn:
                version = conn.execute(text(WAL_POSITION)).scalar()
        else:
            if self._held is None:
                self._held = self._engine.raw_connection()
                self._version = None
            cursor = self._held.cursor()
            try:
                version = cursor.execute("PRAGMA data_version").fetchone()[0]
            finally:
                cursor.close()
        moved, self._version = version != self._version, version
        return moved

    def close(self) -> None:
        """Let go of the held connection."""
        if self._held is not None:
            self._held.close()
            self._held = None
