"""The write path: ingest (add, skip duplicates, update), delete, reindex and crash recovery."""

from archive.write.embed import IngestProgress, IngestTimings
from archive.write.ingest import IngestReport, ingest
from archive.write.maintain import (
    Recovery,
    backfill_vectors,
    delete_article,
    recover,
    recover_if_idle,
    reindex,
    writing,
)
from archive.write.prepare import content_hash, derive_uid, embedding_text, prepare

__all__ = [
    "IngestProgress",
    "IngestReport",
    "IngestTimings",
    "Recovery",
    "backfill_vectors",
    "content_hash",
    "delete_article",
    "derive_uid",
    "embedding_text",
    "ingest",
    "prepare",
    "recover",
    "recover_if_idle",
    "reindex",
    "writing",
]
