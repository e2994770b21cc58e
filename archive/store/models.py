"""SQLAlchemy 2.x models: articles, their chunks, and their near-copy groups (SQL is the source of truth)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    """Declarative base of the archive schema."""


class ArticleRow(Base):
    """A stored article."""

    __tablename__ = "articles"
    # AUTOINCREMENT: ids are never reused, so a stale vector can never point at a new row.
    # ix_articles_card: what a match set reads of each article (the date histogram, filters, date order) without
    # the row itself, whose body comes first and spills into overflow pages (store/cards.py).
    __table_args__ = (
        Index("ix_articles_published_at", "published_at"),
        Index("ix_articles_card", "id", "published_at", "source", "author"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(512), unique=True)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(256), index=True)
    author: Mapped[str | None] = mapped_column(String(512), index=True)
    url: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(DateTime())  # naive UTC
    language: Mapped[str | None] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    ingested_at: Mapped[datetime] = mapped_column(DateTime())
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    chunks: Mapped[list[ChunkRow]] = relationship(
        back_populates="article", cascade="all, delete-orphan", passive_deletes=True, order_by="ChunkRow.seq"
    )
    labels: Mapped[list[LabelRow]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class ChunkRow(Base):
    """A passage of an article and its vector; its id is its FAISS id."""

    __tablename__ = "chunks"
    __table_args__ = (Index("ix_chunks_article_seq", "article_id", "seq", unique=True), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    char_start: Mapped[int] = mapped_column(Integer)
    char_end: Mapped[int] = mapped_column(Integer)
    # The chunk's vector (float16 bytes, `store.vector_rows`), written in the chunk's own transaction:
    # the FAISS index is rebuilt from these without the model. NULL only in archives older than 0004.
    vector: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)

    article: Mapped[ArticleRow] = relationship(back_populates="chunks")


class LabelRow(Base):
    """A short label of an article, from its `extra` (`documents.extra_labels`): facets and label filters read them."""

    __tablename__ = "article_labels"
    __table_args__ = (Index("ix_article_labels_field_value", "field", "value"),)

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    field: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)


class SignatureRow(Base):
    """An article's MinHash signature (`archive.duplicates`) and its story: the smallest article id of its
    group of near copies, or None when it has none."""

    __tablename__ = "article_signatures"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    minhash: Mapped[bytes] = mapped_column(LargeBinary)
    shingles: Mapped[int] = mapped_column(Integer)
    story_id: Mapped[int | None] = mapped_column(Integer, index=True)


class BucketRow(Base):
    """One LSH bucket of an article's signature: articles sharing a bucket are candidate copies."""

    __tablename__ = "duplicate_buckets"
    # SQLite: stored by its key alone (migration 0014), not as a rowid table beside an index of the same key.
    __table_args__ = ({"sqlite_with_rowid": False},)

    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)


class NearCopyRow(Base):
    """Two articles judged versions of one story (low_id < high_id) and their estimated containment."""

    __tablename__ = "near_copies"
    __table_args__ = (Index("ix_near_copies_high", "high_id"),)

    low_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    high_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    similarity: Mapped[float] = mapped_column(Float)


class ThreadRow(Base):
    """An article's story thread (`write.threads`): the id of the article that began the thread, and the
    time the thread's window is measured from (published_at, else ingested_at)."""

    __tablename__ = "article_threads"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    thread_id: Mapped[int] = mapped_column(Integer, index=True)
    at: Mapped[datetime | None] = mapped_column(DateTime(), index=True)
