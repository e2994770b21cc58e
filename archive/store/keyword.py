"""Keyword (BM25) index over chunk text plus the article title, one implementation per SQL dialect."""

from __future__ import annotations

from typing import Protocol, Sequence

from sqlalchemy import Connection, text

# Title matches count more than body matches (BM25 column weights: title, body).
TITLE_WEIGHT = 2.0
BODY_WEIGHT = 1.0


class KeywordIndex(Protocol):
    """Same contract for every dialect; search returns [(chunk_id, score)] best first."""

    def create(self, conn: Connection) -> None: ...
    def add(self, conn: Connection, rows: Sequence[tuple[int, str, str]]) -> None: ...
    def delete(self, conn: Connection, chunk_ids: Sequence[int]) -> None: ...
    def count(self, conn: Connection) -> int: ...


class SqliteKeywordIndex:
    """SQLite FTS5 table `chunk_fts(title, body)`, rowid = chunk id, porter stemming."""

    table = "chunk_fts"

    def create(self, conn: Connection) -> None:
        """Create the FTS5 table."""
        conn.execute(text(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {self.table} USING fts5("
            "title, body, tokenize='porter unicode61 remove_diacritics 2')"
        ))

    def add(self, conn: Connection, rows: Sequence[tuple[int, str, str]]) -> None:
        """Index (chunk_id, title, chunk text) rows."""
        if rows:
            conn.execute(text(f"INSERT INTO {self.table}(rowid, title, body) VALUES (:id, :title, :body)"),
                         [{"id": i, "title": t, "body": b} for i, t, b in rows])

    def delete(self, conn: Connection, chunk_ids: Sequence[int]) -> None:
        """Remove chunks from the index."""
        if chunk_ids:
            conn.execute(text(f"DELETE FROM {self.table} WHERE rowid = :id"), [{"id": i} for i in chunk_ids])

    def count(self, conn: Connection) -> int:
        """Indexed chunks."""
        return int(conn.execute(text(f"SELECT count(*) FROM {self.table}")).scalar_one())

    def rank_expression(self) -> str:
        """SQL giving a higher-is-better BM25 score for the current match row."""
        return f"-bm25({self.table}, {TITLE_WEIGHT}, {BODY_WEIGHT})"


def keyword_index_for(dialect: str) -> SqliteKeywordIndex:
    """The keyword index implementation for a SQLAlchemy dialect name."""
    if dialect == "sqlite":
        return SqliteKeywordIndex()
    raise NotImplementedError(f"no keyword index for the '{dialect}' dialect yet (SQLite is supported)")
