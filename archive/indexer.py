"""The write path: ingest (add, skip duplicates, update), delete, reindex and crash recovery.

Order of work (DESIGN.md section 3): SQL first, in one transaction per batch (articles,
chunks and keyword rows together); then vectors are embedded and added to FAISS, which
is saved atomically from time to time. SQL is the truth: on every open for writing,
`recover` embeds committed chunks that have no vector and drops vectors whose chunk is
gone, so a crash at any point loses nothing committed.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import islice
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
from sqlalchemy import delete, select

from archive.chunking import chunk_text
from archive.core import Archive, utc_naive
from archive.documents import Article, Chunk, ReadFailure
from archive.errors import NotFound
from archive.store.models import ArticleRow, ChunkRow

ARTICLES_PER_TRANSACTION = 128
SAVE_EVERY_SECONDS = 30.0
TITLE_TOKEN_BUDGET = 48  # title words prefixed to each chunk for embedding, at most this many tokens

ProgressCallback = Callable[["IngestProgress"], None]


@dataclass
class IngestProgress:
    """Running totals, passed to the progress callback after each batch."""

    articles_seen: int = 0
    chunks_embedded: int = 0
    chunks_total: int = 0


@dataclass
class IngestReport:
    """What an ingest did: counts plus the reason for every skip and failure."""

    added: int = 0
    updated: int = 0
    duplicates: int = 0
    failed: list[ReadFailure] = field(default_factory=list)
    duplicate_of: list[tuple[str, str]] = field(default_factory=list)  # (origin, existing uid)
    chunks: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        """JSON-ready summary."""
        return {
            "added": self.added, "updated": self.updated, "duplicates": self.duplicates,
            "failed": len(self.failed), "chunks": self.chunks, "seconds": round(self.seconds, 3),
            "failures": [{"origin": f.origin, "reason": f.reason} for f in self.failed],
        }


@dataclass
class _Prepared:
    article: Article
    uid: str
    content_hash: str
    chunks: list[Chunk]
    embed_prefix: str


def normalised_text(text: str) -> str:
    """Text as compared for duplicates: NFKC, case-folded, whitespace collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def content_hash(article: Article) -> str:
    """sha256 of the normalised body: the same story ingested twice is stored once."""
    return hashlib.sha256(normalised_text(article.body).encode()).hexdigest()


def derive_uid(article: Article, digest: str) -> str:
    """The source's own id, else the URL, else a content hash."""
    if article.uid and article.uid.strip():
        return article.uid.strip()
    if article.url and article.url.strip():
        return article.url.strip()
    return f"sha256:{digest[:32]}"


def embedding_text(prefix: str, chunk_text_: str) -> str:
    """What the model sees for a chunk: the (short) title, then the passage."""
    return f"{prefix}\n{chunk_text_}" if prefix else chunk_text_


def _title_prefix(archive: Archive, title: str) -> tuple[str, int]:
    """The title as embedded with each chunk, cut to TITLE_TOKEN_BUDGET tokens; returns (prefix, tokens)."""
    words = title.split()
    counts = archive.encoder.count_tokens(words) if words else []
    total, kept = 0, []
    for word, n in zip(words, counts):
        if total + n > TITLE_TOKEN_BUDGET:
            break
        kept.append(word)
        total += n
    return " ".join(kept), total


def _prepare(archive: Archive, article: Article) -> _Prepared | ReadFailure:
    """Hash, uid and chunks of one article, or the reason it cannot be stored."""
    origin = article.origin or article.uid or article.title[:60]
    if not article.body or not article.body.strip():
        return ReadFailure(origin, "no text")
    digest = content_hash(article)
    prefix, prefix_tokens = _title_prefix(archive, article.title or "")
    # [CLS] and [SEP] plus the newline-separated title must fit beside the passage.
    max_tokens = archive.encoder.max_tokens - 2 - prefix_tokens
    chunks = chunk_text(article.body, archive.encoder.count_tokens,
                        target_tokens=min(archive.settings.chunk_tokens, max_tokens),
                        max_tokens=max_tokens, overlap_sentences=archive.settings.chunk_overlap_sentences)
    if not chunks:
        return ReadFailure(origin, "no text after cleaning")
    return _Prepared(article, derive_uid(article, digest), digest, chunks, prefix)


def _batched(items: Iterable, n: int) -> Iterator[list]:
    it = iter(items)
    while batch := list(islice(it, n)):
        yield batch


def ingest(
    archive: Archive,
    items: Iterable[Article | ReadFailure],
    *,
    source: str | None = None,
    on_progress: ProgressCallback | None = None,
    batch_articles: int = ARTICLES_PER_TRANSACTION,
) -> IngestReport:
    """Store articles (skipping duplicates, updating changed ones) and embed their chunks."""
    report = IngestReport()
    progress = IngestProgress()
    started = time.perf_counter()
    with archive.writing():
        last_save = time.monotonic()
        dirty = False
        for batch in _batched(items, batch_articles):
            prepared: list[_Prepared] = []
            for item in batch:
                progress.articles_seen += 1
                if isinstance(item, ReadFailure):
                    report.failed.append(item)
                    continue
                if source and not item.source:
                    item.source = source
                result = _prepare(archive, item)
                if isinstance(result, ReadFailure):
                    report.failed.append(result)
                else:
                    prepared.append(result)
            new_chunks, stale_ids = _store_batch(archive, prepared, report)
            progress.chunks_total += len(new_chunks)
            if stale_ids:
                archive.vectors.remove(stale_ids)
                dirty = True
            if new_chunks:
                _embed_and_add(archive, new_chunks, progress, on_progress)
                dirty = True
            elif on_progress:
                on_progress(progress)
            if dirty and time.monotonic() - last_save > SAVE_EVERY_SECONDS:
                archive.save_vectors(_max_id(new_chunks))
                last_save, dirty = time.monotonic(), False
        if dirty:
            archive.save_vectors()
    report.seconds = time.perf_counter() - started
    return report


def _max_id(chunks: Sequence[tuple[int, str]]) -> int | None:
    return max((cid for cid, _ in chunks), default=None)


def _store_batch(archive: Archive, prepared: list[_Prepared], report: IngestReport) -> tuple[list[tuple[int, str]], list[int]]:
    """One SQL transaction: insert new articles, replace changed ones. Returns (new (chunk id, text to embed)), stale chunk ids."""
    if not prepared:
        return [], []
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    new_chunks: list[tuple[ChunkRow, str]] = []
    stale_ids: list[int] = []
    with archive.session() as s, s.begin():
        by_hash = dict(s.execute(select(ArticleRow.content_hash, ArticleRow.uid)
                                 .where(ArticleRow.content_hash.in_({p.content_hash for p in prepared}))).all())
        by_uid = {row.uid: row for row in s.scalars(select(ArticleRow).where(ArticleRow.uid.in_({p.uid for p in prepared})))}
        touched: list[tuple[ArticleRow, _Prepared]] = []
        for p in prepared:
            if p.content_hash in by_hash:
                report.duplicates += 1
                report.duplicate_of.append((p.article.origin or p.uid, by_hash[p.content_hash]))
                continue
            row = by_uid.get(p.uid)
            if row is not None:  # same id, new text: an update
                old_ids = list(s.scalars(select(ChunkRow.id).where(ChunkRow.article_id == row.id)))
                archive.keyword.delete(s.connection(), old_ids)
                s.execute(delete(ChunkRow).where(ChunkRow.article_id == row.id))
                stale_ids.extend(old_ids)
                by_hash.pop(row.content_hash, None)
                report.updated += 1
            else:
                row = ArticleRow(uid=p.uid, ingested_at=now)
                s.add(row)
                by_uid[p.uid] = row
                report.added += 1
            _fill_row(row, p)
            by_hash[p.content_hash] = p.uid
            touched.append((row, p))
        s.flush()  # assigns article ids
        for row, p in touched:
            for c in p.chunks:
                chunk = ChunkRow(article_id=row.id, seq=c.seq, text=c.text, char_start=c.char_start, char_end=c.char_end)
                s.add(chunk)
                new_chunks.append((chunk, p.embed_prefix))
        s.flush()  # assigns chunk ids
        titles = {row.id: row.title for row, _ in touched}
        archive.keyword.add(s.connection(), [(c.id, titles[c.article_id], c.text) for c, _ in new_chunks])
    report.chunks += len(new_chunks)
    return [(c.id, embedding_text(prefix, c.text)) for c, prefix in new_chunks], stale_ids


def _fill_row(row: ArticleRow, p: _Prepared) -> None:
    a = p.article
    row.title = a.title or ""
    row.body = a.body
    row.source = a.source
    row.author = a.author
    row.url = a.url
    row.published_at = utc_naive(a.published_at)
    row.language = a.language
    row.content_hash = p.content_hash
    row.extra = a.extra or {}


def _embed_and_add(archive: Archive, chunks: list[tuple[int, str]], progress: IngestProgress,
                   on_progress: ProgressCallback | None) -> None:
    """Encode in model batches and add to FAISS, reporting progress per batch."""
    step = max(archive.settings.batch_size * 4, 1)
    for start in range(0, len(chunks), step):
        part = chunks[start:start + step]
        vectors = archive.encoder.encode([t for _, t in part])
        archive.vectors.add(np.array([cid for cid, _ in part], dtype=np.int64), vectors)
        progress.chunks_embedded += len(part)
        if on_progress:
            on_progress(progress)


def recover(archive: Archive, on_progress: ProgressCallback | None = None) -> tuple[int, int]:
    """Make FAISS agree with SQL: embed chunks without vectors, drop vectors without chunks.

    Returns (embedded, removed). Called with the write lock held.
    """
    sql_ids = archive.chunk_ids()
    index_ids = archive.vectors.ids()
    missing = np.setdiff1d(sql_ids, index_ids, assume_unique=True)
    orphans = np.setdiff1d(index_ids, sql_ids, assume_unique=True)
    if len(orphans):
        archive.vectors.remove(orphans)
    if len(missing):
        progress = IngestProgress(chunks_total=len(missing))
        for start in range(0, len(missing), 4096):
            _embed_and_add(archive, _chunk_inputs(archive, missing[start:start + 4096].tolist()), progress, on_progress)
    if len(missing) or len(orphans):
        archive.save_vectors(int(sql_ids.max()) if len(sql_ids) else 0)
    return int(len(missing)), int(len(orphans))


def _chunk_inputs(archive: Archive, chunk_ids: list[int]) -> list[tuple[int, str]]:
    """(chunk id, embedding text) for stored chunks, in one query."""
    with archive.session() as s:
        rows = s.execute(select(ChunkRow.id, ChunkRow.text, ArticleRow.title)
                         .join(ArticleRow, ArticleRow.id == ChunkRow.article_id)
                         .where(ChunkRow.id.in_(chunk_ids))).all()
    prefixes: dict[str, str] = {}
    out = []
    for cid, text, title in rows:
        if title not in prefixes:
            prefixes[title] = _title_prefix(archive, title or "")[0]
        out.append((cid, embedding_text(prefixes[title], text)))
    return out


def delete_article(archive: Archive, key: str | int) -> str:
    """Delete an article by uid or numeric id, with its chunks and vectors; returns its uid."""
    with archive.writing():
        with archive.session() as s, s.begin():
            row = _find(s, key)
            if row is None:
                raise NotFound(f"no article with id or uid {key!r}")
            ids = list(s.scalars(select(ChunkRow.id).where(ChunkRow.article_id == row.id)))
            archive.keyword.delete(s.connection(), ids)
            uid = row.uid
            s.delete(row)
        archive.vectors.remove(ids)
        archive.save_vectors()
    return uid


def _find(s, key: str | int) -> ArticleRow | None:
    row = s.scalar(select(ArticleRow).where(ArticleRow.uid == str(key)))
    if row is None and str(key).isdigit():
        row = s.get(ArticleRow, int(key))
    return row


def reindex(archive: Archive, on_progress: ProgressCallback | None = None) -> int:
    """Rebuild the vector index from SQL with the current encoder; returns the vectors written."""
    with archive.writing(recover=False):
        archive.reset_vectors()
        embedded, _ = recover(archive, on_progress)
        archive.save_vectors()
    return embedded
