"""Each chunk's vector in SQL beside its chunk (`chunks.vector`, float16 bytes): the FAISS index becomes a
copy rebuilt from SQL without the model (docs/deployment.md).

The column is nullable: archives made before it get their vectors from their FAISS file on the next
open for writing (`write.maintain.recover`, no model), or from `archive migrate`, which backfills too.

Revision ID: 0004
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("chunks")}
    if "vector" not in columns:
        op.add_column("chunks", sa.Column("vector", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("vector")
