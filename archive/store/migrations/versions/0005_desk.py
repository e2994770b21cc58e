"""Saved searches with their alerts, and batch searches with their queries (the journalist's desk).

Only creates tables (checkfirst): an existing archive upgrades without touching its articles.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("batch_queries", "batch_jobs", "alerts", "saved_searches")  # in dropping order


def _schema() -> sa.MetaData:
    """The tables as of this revision (frozen here; archive/store/desk.py and batches.py move on)."""
    meta = sa.MetaData()
    sa.Table("articles", meta, sa.Column("id", sa.Integer, primary_key=True))  # referenced only
    sa.Table(
        "saved_searches",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("q", sa.Text, nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("source", sa.String(256)),
        sa.Column("author", sa.String(512)),
        sa.Column("after", sa.Date),
        sa.Column("before", sa.Date),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("since_article_id", sa.Integer, nullable=False),
        sa.Column("seen_alert_id", sa.Integer, nullable=False),
        sqlite_autoincrement=True,
    )
    sa.Table(
        "alerts",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "saved_search_id", sa.Integer, sa.ForeignKey("saved_searches.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Index("ix_alerts_search_article", "saved_search_id", "article_id", unique=True),
        sqlite_autoincrement=True,
    )
    sa.Table(
        "batch_jobs",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime()),
        sa.Column("worker", sa.String(128)),
        sa.Column("error", sa.Text),
        sqlite_autoincrement=True,
    )
    sa.Table(
        "batch_queries",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("batch_jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("matches", sa.Integer),
        sa.Column("hits", sa.JSON),
        sa.Column("error", sa.Text),
        sa.Index("ix_batch_queries_job_seq", "job_id", "seq", unique=True),
        sqlite_autoincrement=True,
    )
    return meta


def upgrade() -> None:
    meta = _schema()
    bind = op.get_bind()
    for name in reversed(TABLES):
        meta.tables[name].create(bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    meta = _schema()
    for name in TABLES:
        meta.tables[name].drop(bind, checkfirst=True)
