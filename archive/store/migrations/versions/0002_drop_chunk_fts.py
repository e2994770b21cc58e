"""Drop `chunk_fts`, the chunk-level FTS5 table: written on every ingest, read by nothing since passages
are chosen in Python (docs/performance.md, "Query path"). Everything else is kept.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS chunk_fts")


def downgrade() -> None:
    pass  # nothing reads it: there is nothing to restore
