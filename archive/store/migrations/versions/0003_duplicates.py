"""Near-copy groups: each article's MinHash signature and story, its LSH buckets, and the judged pairs.

Creates the tables only (idempotent); `archive migrate` then computes the signatures and groups of
the articles that have none (`write.stories.backfill`), which needs no model.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _schema() -> sa.MetaData:
    """The tables as of this revision (frozen here: the models may move on)."""
    meta = sa.MetaData()
    articles = sa.Table("articles", meta, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        "article_signatures",
        meta,
        sa.Column("article_id", sa.Integer, sa.ForeignKey(articles.c.id, ondelete="CASCADE"), primary_key=True),
        sa.Column("minhash", sa.LargeBinary, nullable=False),
        sa.Column("shingles", sa.Integer, nullable=False),
        sa.Column("story_id", sa.Integer, index=True),
    )
    sa.Table(
        "duplicate_buckets",
        meta,
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        sa.Column("article_id", sa.Integer, sa.ForeignKey(articles.c.id, ondelete="CASCADE"), primary_key=True),
    )
    sa.Table(
        "near_copies",
        meta,
        sa.Column("low_id", sa.Integer, sa.ForeignKey(articles.c.id, ondelete="CASCADE"), primary_key=True),
        sa.Column("high_id", sa.Integer, sa.ForeignKey(articles.c.id, ondelete="CASCADE"), primary_key=True),
        sa.Column("similarity", sa.Float, nullable=False),
        sa.Index("ix_near_copies_high", "high_id"),
    )
    return meta


def upgrade() -> None:
    bind = op.get_bind()
    meta = _schema()
    existing = set(sa.inspect(bind).get_table_names())
    for name in ("article_signatures", "duplicate_buckets", "near_copies"):
        if name not in existing:
            meta.tables[name].create(bind)


def downgrade() -> None:
    for name in ("near_copies", "duplicate_buckets", "article_signatures"):
        op.drop_table(name)
