"""Keyword (BM25) indexes over articles: one contract, one implementation per SQL dialect.

`KeywordIndex` (in `base.py`) is everything the read path asks of a keyword index; `fts5.py`
implements it with SQLite FTS5, `postgres.py` with PostgreSQL's full-text search (a weighted
`tsvector` with a GIN index, BM25 from document frequencies kept by triggers).
"""

from __future__ import annotations

from archive.store.keyword.base import KeywordIndex


def keyword_index_for(dialect: str) -> KeywordIndex:
    """The keyword index implementation for a SQLAlchemy dialect name."""
    if dialect == "sqlite":
        from archive.store.keyword.fts5 import Fts5KeywordIndex

        return Fts5KeywordIndex()
    if dialect == "postgresql":
        from archive.store.keyword.postgres import PostgresKeywordIndex

        return PostgresKeywordIndex()
    from archive.errors import ArchiveError

    raise ArchiveError(
        f"no keyword index for the '{dialect}' database yet: ARCHIVE_DATABASE_URL must be a SQLite or PostgreSQL URL (or unset)"
    )


__all__ = ["KeywordIndex", "keyword_index_for"]
