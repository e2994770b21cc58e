"""Alembic migrations of the archive schema (run by archive.store.db.migrate)."""
