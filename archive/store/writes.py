"""Every statement of the write path: store a batch (add, skip duplicates, update), delete, read back chunk texts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, insert, select, text
from sqlalchemy.orm import Session

from archive.dates import utc_naive
from archive.documents import PreparedArticle, extra_labels
from archive.store.idlists import among
from archive.store.models import ArticleRow, ChunkRow, LabelRow
from archive.store.reads import batches, find_article
from archive.store.vector_rows import rounded, to_blob

Embed = Callable[[list[tuple[str, str]]], np.ndarray]  # [(title prefix, chunk text)] -> (n, dim) unit vectors


@dataclass
class BatchOutcome:
    """What storing one batch did: counts, duplicates (origin, existing uid), new chunks and replaced ones."""

    added: int = 0
    updated: int = 0
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    new_chunks: list[tuple[int, str, str]] = field(default_factory=list)  # (chunk id, title prefix, chunk text)
    stale_chunk_ids: list[int] = field(default_factory=list)  # chunks of updated articles, now gone
    vectors: np.ndarray | None = None  # of new_chunks, as stored (float16-rounded); None when not embedded
    article_ids: list[int] = field(default_factory=list)  # articles added or updated (their near copies change)


def save_batch(session: Session, prepared: Sequence[PreparedArticle], embed: Embed | None = None) -> BatchOutcome:
    """Insert new articles and replace changed ones (same uid, new text); skip known texts. Caller commits.

    `embed` makes the vectors of the new chunks, which are inserted with them (in the caller's
    transaction: a committed chunk always has its vector). It runs before the first insert, so
    the database's write lock is not held while the model works.

    Duplicate rule: a content hash already stored (or earlier in this batch) is a duplicate.
    Update rule: a known uid with a new content hash replaces that article's fields and chunks.
    A uid repeated within the batch follows the same rules in input order, exactly as if each
    record came in a batch of its own: the later text wins and counts as an update (the earlier
    one's text is then free again, and the same text twice is a duplicate).
    """
    out = BatchOutcome()
    if not prepared:
        return out
    now = datetime.now(UTC).replace(tzinfo=None)
    by_hash = dict(
        session.execute(
            select(ArticleRow.content_hash, ArticleRow.uid).where(
                ArticleRow.content_hash.in_({p.content_hash for p in prepared})
            )
        ).all()
    )
    by_uid = {
        row.uid: row for row in session.scalars(select(ArticleRow).where(ArticleRow.uid.in_({p.uid for p in prepared})))
    }
    touched: dict[str, PreparedArticle] = {}  # uid -> its latest text in this batch, in order of first mention
    updated: dict[str, ArticleRow] = {}  # uid -> its stored row, for the uids already stored
    for p in prepared:
        if p.content_hash in by_hash:
            out.duplicates.append((p.article.origin or p.uid, by_hash[p.content_hash]))
            continue
        row = by_uid.get(p.uid)
        if p.uid in touched:  # named earlier in this batch: its chunks are not written yet, only replaced
            by_hash.pop(touched[p.uid].content_hash, None)
            out.updated += 1
        elif row is not None:  # same id, new text: an update
            out.stale_chunk_ids += [
                int(c) for c in session.scalars(select(ChunkRow.id).where(ChunkRow.article_id == row.id))
            ]
            session.execute(delete(ChunkRow).where(ChunkRow.article_id == row.id))
            by_hash.pop(row.content_hash, None)
            updated[p.uid] = row
            out.updated += 1
        else:
            out.added += 1
        by_hash[p.content_hash] = p.uid
        touched[p.uid] = p
    texts = [(p.embed_prefix, c.text) for p in touched.values() for c in p.chunks]
    if embed is not None:
        out.vectors = rounded(embed(texts)) if texts else np.zeros((0, 0), dtype=np.float32)
    for uid, row in updated.items():
        _fill(row, touched[uid])
    session.flush()
    conn = session.connection()
    article_ids = {uid: int(row.id) for uid, row in updated.items()}
    article_ids.update(_insert_articles(conn, [p for uid, p in touched.items() if uid not in updated], now))
    # the chunks by one executemany (Core: no ORM object per chunk), then their ids by (article, seq)
    rows = [
        {
            "article_id": article_ids[uid],
            "seq": c.seq,
            "text": c.text,
            "char_start": c.char_start,
            "char_end": c.char_end,
        }
        for uid, p in touched.items()
        for c in p.chunks
    ]
    for n, r in enumerate(rows):
        r["vector"] = to_blob(out.vectors[n]) if out.vectors is not None else None
    if rows:
        conn.execute(insert(ChunkRow), rows)
    owners = [article_ids[uid] for uid in touched]
    ids = (
        {
            (a, seq): int(i)
            for i, a, seq in conn.execute(
                select(ChunkRow.id, ChunkRow.article_id, ChunkRow.seq).where(among(conn, ChunkRow.article_id, owners))
            )
        }
        if rows
        else {}
    )
    prefixes = [p.embed_prefix for p in touched.values() for _ in p.chunks]
    out.new_chunks = [
        (ids[(r["article_id"], r["seq"])], prefix, r["text"]) for prefix, r in zip(prefixes, rows, strict=True)
    ]
    out.article_ids = owners
    return out


def _fit(value: str | None, column: str) -> str | None:
    """A value cut to its column's declared length (PostgreSQL enforces it; SQLite would store any length)."""
    length = ArticleRow.__table__.c[column].type.length
    return value[:length] if value is not None and length else value


def _columns(p: PreparedArticle) -> dict[str, Any]:
    """An article's stored fields (all but its id, uid and ingest time) from its prepared record."""
    a = p.article
    return {
        "title": a.title or "",
        "body": a.body,
        "source": _fit(a.source, "source"),
        "author": _fit(a.author, "author"),
        "url": a.url,
        "published_at": utc_naive(a.published_at),
        "language": _fit(a.language, "language"),
        "content_hash": p.content_hash,
        "extra": a.extra or {},
    }


def _insert_articles(conn: Connection, new: Sequence[PreparedArticle], now: datetime) -> dict[str, int]:
    """Insert new articles and their labels (Core, no ORM object per row); uid -> the id each got.

    With RETURNING the rows go as multi-row statements (SQLAlchemy's "insertmanyvalues"), so
    PostgreSQL's statement triggers (the keyword statistics) run once per statement, not per row.
    """
    if not new:
        return {}
    values = [{"uid": p.uid, "ingested_at": now, **_columns(p)} for p in new]
    ids = {uid: int(i) for i, uid in conn.execute(insert(ArticleRow).returning(ArticleRow.id, ArticleRow.uid), values)}
    labels = [
        {"article_id": ids[v["uid"]], "field": f, "value": label}
        for v in values
        for f, label in sorted(extra_labels(v["extra"]))
    ]
    if labels:
        conn.execute(insert(LabelRow), labels)
    return ids


def _fill(row: ArticleRow, p: PreparedArticle) -> None:
    """A stored article's fields and labels replaced by its new text's (an update, through the ORM)."""
    for column, value in _columns(p).items():
        setattr(row, column, value)
    wanted = extra_labels(row.extra)
    kept = [label for label in row.labels if (label.field, label.value) in wanted]
    have = {(label.field, label.value) for label in kept}
    row.labels = kept + [LabelRow(field=f, value=v) for f, v in sorted(wanted - have)]


def delete_article(session: Session, key: str | int) -> tuple[str, list[int]] | None:
    """Delete an article (by uid or id) with its chunks; (its uid, its chunk ids), or None if there is none. Caller commits."""
    row = find_article(session, key)
    if row is None:
        return None
    ids = [int(c) for c in session.scalars(select(ChunkRow.id).where(ChunkRow.article_id == row.id))]
    uid = row.uid
    session.delete(row)
    return uid, ids


def chunk_texts(conn: Connection, chunk_ids: Sequence[int]) -> list[tuple[int, str, str]]:
    """(chunk id, chunk text, article title) of stored chunks."""
    out: list[tuple[int, str, str]] = []
    for part in batches(chunk_ids):
        out += [
            (int(c), t, title or "")
            for c, t, title in conn.execute(
                select(ChunkRow.id, ChunkRow.text, ArticleRow.title)
                .join(ArticleRow, ArticleRow.id == ChunkRow.article_id)
                .where(ChunkRow.id.in_(part))
            )
        ]
    return out


def insert_rows(conn: Connection, table: str, rows: Sequence[dict]) -> None:
    """Insert rows of `articles` or `chunks` as they are, ids included (copying an archive). Caller commits.

    One multi-row statement per call (not an executemany of single rows), so PostgreSQL's
    statement triggers (the keyword statistics) run once per batch.
    """
    model = {"articles": ArticleRow, "chunks": ChunkRow}[table].__table__
    if rows:
        conn.execute(insert(model).values(list(rows)))


def reserve_ids(conn: Connection, next_article: int, next_chunk: int) -> None:
    """New articles and chunks get ids from these on (never an id used before: a stale vector cannot match)."""
    for table, nxt in (("articles", next_article), ("chunks", next_chunk)):
        if conn.dialect.name == "sqlite":
            conn.execute(text("DELETE FROM sqlite_sequence WHERE name = :t"), {"t": table})
            conn.execute(text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :s)"), {"t": table, "s": nxt - 1})
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :s, false)"), {"t": table, "s": nxt})


LABEL_BATCH = 2_000


def fill_labels(conn: Connection) -> int:
    """Write the labels of every article that has none yet, from its `extra` (a migrated or copied archive);
    rows written."""
    labels = LabelRow.__table__
    labelled = select(labels.c.article_id).distinct()
    last, written = 0, 0
    while True:
        rows = conn.execute(
            select(ArticleRow.id, ArticleRow.extra)
            .where(ArticleRow.id > last, ArticleRow.id.not_in(labelled))
            .order_by(ArticleRow.id)
            .limit(LABEL_BATCH)
        ).all()
        if not rows:
            return written
        values = [
            {"article_id": aid, "field": f, "value": v} for aid, extra in rows for f, v in sorted(extra_labels(extra))
        ]
        if values:
            conn.execute(insert(labels), values)
            written += len(values)
        last = rows[-1][0]
