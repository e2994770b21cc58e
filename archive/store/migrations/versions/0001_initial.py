"""Articles, chunks and the keyword index.

Idempotent on purpose: archives made before migrations existed have these tables already
(and perhaps no keyword index, or one that is behind); this revision creates only what is
missing and backfills the keyword index, so they upgrade like a new database.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from archive.store.keyword import keyword_index_for

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _schema() -> sa.MetaData:
    """The schema as of this revision (frozen here: later revisions change it, the models move on)."""
    meta = sa.MetaData()
    sa.Table(
        "articles",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uid", sa.String(512), nullable=False, unique=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("source", sa.String(256), index=True),
        sa.Column("author", sa.String(512), index=True),
        sa.Column("url", sa.Text),
        sa.Column("published_at", sa.DateTime()),
        sa.Column("language", sa.String(16)),
        sa.Column("content_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("ingested_at", sa.DateTime(), nullable=False),
        sa.Column("extra", sa.JSON, nullable=False),
        sa.Index("ix_articles_published_at", "published_at"),
        sqlite_autoincrement=True,  # ids never reused: a stale vector can never point at a new row
    )
    sa.Table(
        "chunks",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("char_start", sa.Integer, nullable=False),
        sa.Column("char_end", sa.Integer, nullable=False),
        sa.Index("ix_chunks_article_seq", "article_id", "seq", unique=True),
        sqlite_autoincrement=True,
    )
    return meta


def upgrade() -> None:
    bind = op.get_bind()
    _schema().create_all(bind, checkfirst=True)
    keyword_index_for(bind.dialect.name).create(bind)


def downgrade() -> None:
    raise NotImplementedError("the first revision is not undone: delete the database instead")
