"""Alembic environment: migrations run on the connection the store hands over (no alembic.ini)."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `archive migrate` (archive.store.db.migrate), not the alembic CLI")
context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
