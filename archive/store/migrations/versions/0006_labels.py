"""`article_labels`: the short labels of each article's `extra` (topics, places, ...), one row per
(article, field, value), for facets and label filters; filled from the stored articles.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from archive.store.writes import fill_labels

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("article_labels"):
        op.create_table(
            "article_labels",
            sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
            sa.Column("field", sa.String(64), primary_key=True),
            sa.Column("value", sa.String(64), primary_key=True),
        )
        op.create_index("ix_article_labels_field_value", "article_labels", ["field", "value"])
    # The rule that makes labels (`documents.extra_labels`) is the one the write path applies.
    fill_labels(bind)


def downgrade() -> None:
    op.drop_table("article_labels")
