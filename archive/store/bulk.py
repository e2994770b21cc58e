"""Bulk loading: many new articles with their chunks, vectors and labels in a few statements.

`writes.save_batch` is the write path's statement set (duplicates, updates, the ORM, near copies);
this is the fast path for a loader that already knows every article is new and distinct (a
migration between stores, a benchmark building a million articles): ids are handed out here from
the table's high-water mark, so each table takes one multi-row INSERT per call. The caller holds
the writer's lock and commits; a unique uid or content hash already stored makes the whole call
fail (the transaction rolls back, nothing is half-written). The keyword index follows by its
triggers, as for every write.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Connection, insert, text

from archive.dates import utc_naive
from archive.documents import PreparedArticle, extra_labels
from archive.store.models import ArticleRow, ChunkRow, LabelRow
from archive.store.reads import next_ids
from archive.store.vector_rows import to_blob

CACHE_KIB = 256 * 1024  # SQLite page cache of a bulk-loading connection (the default 2 MB thrashes past ~100k articles)


def add_new(conn: Connection, prepared: Sequence[PreparedArticle], vectors: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Insert articles known to be new (uids and texts not stored), their chunks with `vectors` (one row per
    chunk, in order) and their labels; returns (article ids, chunk ids in the order of `vectors`)."""
    chunk_count = sum(len(p.chunks) for p in prepared)
    if vectors.shape[0] != chunk_count:
        raise ValueError(f"{chunk_count} chunks but {vectors.shape[0]} vectors")
    if not prepared:
        return [], np.zeros(0, dtype=np.int64)
    if conn.dialect.name == "sqlite":  # the unique indexes take random keys: keep their pages in memory
        conn.exec_driver_sql(f"PRAGMA cache_size = -{CACHE_KIB}")
    first_article, first_chunk = next_ids(conn)
    now = datetime.now(UTC).replace(tzinfo=None)
    articles, chunks, labels = [], [], []
    chunk_id = first_chunk
    for offset, p in enumerate(prepared):
        a, article_id = p.article, first_article + offset
        articles.append(
            {
                "id": article_id,
                "uid": p.uid,
                "title": a.title or "",
                "body": a.body,
                "source": a.source,
                "author": a.author,
                "url": a.url,
                "published_at": utc_naive(a.published_at),
                "language": a.language,
                "content_hash": p.content_hash,
                "ingested_at": now,
                "extra": a.extra or {},
            }
        )
        for c in p.chunks:
            chunks.append(
                {
                    "id": chunk_id,
                    "article_id": article_id,
                    "seq": c.seq,
                    "text": c.text,
                    "char_start": c.char_start,
                    "char_end": c.char_end,
                    "vector": to_blob(vectors[chunk_id - first_chunk]),
                }
            )
            chunk_id += 1
        labels.extend({"article_id": article_id, "field": f, "value": v} for f, v in sorted(extra_labels(a.extra)))
    conn.execute(insert(ArticleRow.__table__), articles)
    conn.execute(insert(ChunkRow.__table__), chunks)
    if labels:
        conn.execute(insert(LabelRow.__table__), labels)
    if conn.dialect.name == "postgresql":  # explicit ids do not move a SERIAL's sequence: move it past them
        for table, last in (("articles", first_article + len(prepared) - 1), ("chunks", chunk_id - 1)):
            conn.execute(text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v)"), {"t": table, "v": last})
    return [first_article + i for i in range(len(prepared))], np.arange(first_chunk, chunk_id, dtype=np.int64)
