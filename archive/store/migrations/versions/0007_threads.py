"""Story threads: `article_threads` (article, thread id, the time its window is measured from).

Creates the table only (idempotent); `archive migrate` then threads the articles that have none
(`write.threads.backfill`), from the stored vectors, without the model.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("article_threads"):
        op.create_table(
            "article_threads",
            sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
            sa.Column("thread_id", sa.Integer, nullable=False),
            sa.Column("at", sa.DateTime()),
        )
        op.create_index("ix_article_threads_thread_id", "article_threads", ["thread_id"])
        op.create_index("ix_article_threads_at", "article_threads", ["at"])


def downgrade() -> None:
    op.drop_table("article_threads")
