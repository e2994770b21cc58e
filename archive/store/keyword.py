"""Keyword (BM25) indexes, one implementation per SQL dialect.

Two FTS5 tables, both with porter stemming:

- ``article_fts(title, body)``, rowid = article id: ranks *articles*. BM25 over the
  whole story is what a keyword search should rank (a story that mentions the query
  words in several paragraphs beats one that mentions them once), and phrases and
  exclusions are judged on the whole article. It is an external-content table over
  ``articles`` kept in sync by SQL triggers, so every writer (even an older build of
  this code) maintains it inside its own transaction, and it stores no second copy
  of the text. Archives made before it existed are backfilled when opened.
- ``chunk_fts(title, body)``, rowid = chunk id: finds the best *passage* of an
  article that matched (written by the indexer with each chunk).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import Connection, text

# BM25 column weights (title, body). A title is a dense summary of the story, so a
# title match counts more; 3.0 was best on SciFact train (docs/search.md). The search
# layer passes Settings.title_weight; these are the defaults.
TITLE_WEIGHT = 3.0
BODY_WEIGHT = 1.0

_TOKENIZE = "tokenize='porter unicode61 remove_diacritics 2'"


class KeywordIndex(Protocol):
    """Same contract for every dialect; the indexer writes chunk rows, articles are kept by the store."""

    def create(self, conn: Connection) -> None: ...
    def add(self, conn: Connection, rows: Sequence[tuple[int, str, str]]) -> None: ...
    def delete(self, conn: Connection, chunk_ids: Sequence[int]) -> None: ...
    def count(self, conn: Connection) -> int: ...


class SqliteKeywordIndex:
    """SQLite FTS5: `chunk_fts` (rowid = chunk id) and `article_fts` (rowid = article id)."""

    table = "chunk_fts"
    article_table = "article_fts"

    def create(self, conn: Connection) -> None:
        """Create both tables and the article triggers; backfill `article_fts` if it is behind."""
        conn.execute(text(f"CREATE VIRTUAL TABLE IF NOT EXISTS {self.table} USING fts5(title, body, {_TOKENIZE})"))
        conn.execute(text(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {self.article_table} USING fts5("
            f"title, body, content='articles', content_rowid='id', {_TOKENIZE})"
        ))
        t = self.article_table
        # External content: a delete must pass the old values, which only a trigger reliably has.
        for statement in (
            (f"CREATE TRIGGER IF NOT EXISTS {t}_ai AFTER INSERT ON articles BEGIN "
             f"INSERT INTO {t}(rowid, title, body) VALUES (new.id, new.title, new.body); END"),
            (f"CREATE TRIGGER IF NOT EXISTS {t}_ad AFTER DELETE ON articles BEGIN "
             f"INSERT INTO {t}({t}, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); END"),
            (f"CREATE TRIGGER IF NOT EXISTS {t}_au AFTER UPDATE OF title, body ON articles BEGIN "
             f"INSERT INTO {t}({t}, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); "
             f"INSERT INTO {t}(rowid, title, body) VALUES (new.id, new.title, new.body); END"),
        ):
            conn.execute(text(statement))
        if not self.article_index_current(conn):
            self.rebuild_articles(conn)

    def article_index_current(self, conn: Connection) -> bool:
        """True when every article has its row in `article_fts` (two cheap counts)."""
        indexed = conn.execute(text(f"SELECT count(*) FROM {self.article_table}_docsize")).scalar_one()
        stored = conn.execute(text("SELECT count(*) FROM articles")).scalar_one()
        return int(indexed) == int(stored)

    def rebuild_articles(self, conn: Connection) -> None:
        """Re-read every article into `article_fts` (backfill of archives made before it existed)."""
        conn.execute(text(f"INSERT INTO {self.article_table}({self.article_table}) VALUES ('rebuild')"))

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

    def rank_expression(self, title_weight: float = TITLE_WEIGHT, body_weight: float = BODY_WEIGHT) -> str:
        """SQL giving a higher-is-better BM25 score for the current `chunk_fts` match row."""
        return f"-bm25({self.table}, {float(title_weight)}, {float(body_weight)})"

    def article_rank_expression(self, title_weight: float = TITLE_WEIGHT, body_weight: float = BODY_WEIGHT) -> str:
        """SQL giving a higher-is-better BM25 score for the current `article_fts` match row."""
        return f"-bm25({self.article_table}, {float(title_weight)}, {float(body_weight)})"


def keyword_index_for(dialect: str) -> SqliteKeywordIndex:
    """The keyword index implementation for a SQLAlchemy dialect name."""
    if dialect == "sqlite":
        return SqliteKeywordIndex()
    raise NotImplementedError(f"no keyword index for the '{dialect}' dialect yet (SQLite is supported)")
