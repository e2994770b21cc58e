"""The write path: ingest (add, skip duplicates, update), delete, reindex and crash recovery.

Order of work (DESIGN.md section 3): SQL first, in one transaction per batch (articles,
chunks and keyword rows together); then vectors are embedded and added to FAISS, which
is saved atomically from time to time. SQL is the truth: on every open for writing,
`recover` embeds committed chunks that have no vector and drops vectors whose chunk is
gone, so a crash at any point loses nothing committed.
"""

from __future__ import annotations

import hashlib
import queue
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice

import numpy as np
from sqlalchemy import delete, select

from archive.chunking import chunk_text
from archive.core import Archive, utc_naive
from archive.documents import Article, Chunk, ReadFailure
from archive.errors import ModelError, NotFound
from archive.store.models import ArticleRow, ChunkRow

ARTICLES_PER_TRANSACTION = 128
LOOKAHEAD_BATCHES = 6  # committed batches waiting for the embedder (bounds the work a crash leaves to recover)
POOL_BATCHES = 16  # chunks sorted by length together: batch_size * this (64 * 16 = 1024)
SAVE_EVERY_SECONDS = 30.0
TITLE_TOKEN_BUDGET = 48  # title words prefixed to each chunk for embedding, at most this many tokens

ProgressCallback = Callable[["IngestProgress"], None]


@dataclass
class IngestProgress:
    """Running totals, passed to the progress callback after each batch."""

    articles_seen: int = 0
    chunks_embedded: int = 0
    chunks_total: int = 0  # chunks committed so far (the producer runs a few batches ahead)
    articles_expected: int | None = None  # known when the input is a sized collection

    @property
    def chunks_expected(self) -> int:
        """Chunks the whole run will embed: committed so far, extrapolated when the input size is known."""
        if self.articles_expected and self.articles_seen:
            estimate = round(self.chunks_total / self.articles_seen * self.articles_expected)
            return max(self.chunks_total, estimate)
        return self.chunks_total


@dataclass
class IngestTimings:
    """Where an ingest spent its seconds (bench/ingest.py prints them): producer and embedder sides overlap."""

    prepare: float = 0.0  # producer: read, hash, chunk (token counting)
    store: float = 0.0  # producer: SQL transactions
    wait: float = 0.0  # embedder idle, waiting for a committed batch
    encode: float = 0.0  # embedder: the model
    add: float = 0.0  # embedder: FAISS add / remove
    save: float = 0.0  # embedder: writing the index

    def as_dict(self) -> dict[str, float]:
        """Rounded seconds."""
        return {k: round(v, 3) for k, v in self.__dict__.items()}


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
    timings: IngestTimings = field(default_factory=IngestTimings)

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


class _Saver:
    """Saves the vector index from time to time, never spending more than ~5% of the run on it."""

    def __init__(self, archive: Archive, timings: IngestTimings | None = None) -> None:
        self.archive = archive
        self.timings = timings or IngestTimings()
        self.dirty = False
        self._interval = SAVE_EVERY_SECONDS
        self._last = time.monotonic()

    def maybe(self) -> None:
        """Save if the index changed and the interval has passed."""
        if self.dirty and time.monotonic() - self._last > self._interval:
            self.now()

    def now(self) -> None:
        """Save now (choosing the index type for the new size first)."""
        started = time.monotonic()
        self.archive.vectors.fit_size(self.archive.settings.ann_threshold)
        self.archive.save_vectors()
        took = time.monotonic() - started
        self.timings.save += took
        # A 1M-vector index takes seconds to write: save it less often than a small one.
        self._interval = max(SAVE_EVERY_SECONDS, 20 * took)
        self._last, self.dirty = time.monotonic(), False


def ingest(
    archive: Archive,
    items: Iterable[Article | ReadFailure],
    *,
    source: str | None = None,
    on_progress: ProgressCallback | None = None,
    batch_articles: int = ARTICLES_PER_TRANSACTION,
    articles_expected: int | None = None,
) -> IngestReport:
    """Store articles (skipping duplicates, updating changed ones) and embed their chunks.

    Two threads overlap the work: a producer reads, chunks and commits batches of articles
    (SQL first, as ever), while this thread embeds the committed chunks and adds them to
    FAISS. torch and onnxruntime release the GIL while they compute, so the producer's
    Python work hides behind the model. The producer runs at most a few batches ahead, so
    a crash leaves little committed-but-unembedded work for `recover` to redo.
    """
    report = IngestReport()
    if articles_expected is None and isinstance(items, Sized):
        articles_expected = len(items)
    progress = IngestProgress(articles_expected=articles_expected)
    started = time.perf_counter()
    with archive.writing():
        _check_backend(archive)  # also loads the model (and its token counter) before the producer needs it
        batches: queue.Queue = queue.Queue(maxsize=LOOKAHEAD_BATCHES)
        stop = threading.Event()
        producer = threading.Thread(target=_produce, name="ingest-store", daemon=True,
                                    args=(archive, items, source, batch_articles, report, progress, batches, stop))
        producer.start()
        saver = _Saver(archive, report.timings)
        try:
            _consume(archive, batches, progress, on_progress, saver)
        finally:
            stop.set()
            while producer.is_alive():  # unblock a producer waiting on a full queue
                try:
                    batches.get(timeout=0.05)
                except queue.Empty:
                    pass
            producer.join()
        if saver.dirty:
            saver.now()
    report.seconds = time.perf_counter() - started
    return report


def _produce(archive: Archive, items: Iterable[Article | ReadFailure], source: str | None, batch_articles: int,
             report: IngestReport, progress: IngestProgress, out: queue.Queue, stop: threading.Event) -> None:
    """Producer thread: read, prepare and commit batches; hand (new chunks, stale ids) to the embedder."""

    def put(message: tuple) -> bool:
        while not stop.is_set():
            try:
                out.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    try:
        for batch in _batched(items, batch_articles):
            if stop.is_set():
                return
            tick = time.perf_counter()
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
            report.timings.prepare += time.perf_counter() - tick
            tick = time.perf_counter()
            new_chunks, stale_ids = _store_batch(archive, prepared, report)
            report.timings.store += time.perf_counter() - tick
            progress.chunks_total += len(new_chunks)
            if not put(("batch", new_chunks, stale_ids)):
                return
        put(("done",))
    except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which re-raises it
        put(("error", exc))


def _consume(archive: Archive, batches: queue.Queue, progress: IngestProgress,
             on_progress: ProgressCallback | None, saver: _Saver) -> None:
    """Embedder (main thread): pool committed chunks, encode them longest first, add to FAISS."""
    pool_limit = max(archive.settings.batch_size * POOL_BATCHES, 1)
    pending: dict[int, str] = {}
    done = False
    timings = saver.timings

    def take(message: tuple) -> bool:
        kind = message[0]
        if kind == "error":
            raise message[1]
        if kind == "done":
            return True
        _, new_chunks, stale_ids = message
        if stale_ids:  # an updated article: its old chunks may still be waiting, or already in FAISS
            for cid in stale_ids:
                pending.pop(cid, None)
            tick = time.perf_counter()
            archive.vectors.remove(stale_ids)
            timings.add += time.perf_counter() - tick
            saver.dirty = True
        pending.update(new_chunks)
        if on_progress:
            on_progress(progress)
        return False

    while not done or pending:
        if not pending:
            tick = time.perf_counter()
            message = batches.get()
            timings.wait += time.perf_counter() - tick
            done = take(message)
        # Take whatever else is ready (up to a pool): more texts to sort means less padding.
        while not done and len(pending) < pool_limit:
            try:
                done = take(batches.get_nowait())
            except queue.Empty:
                break
        if pending:
            _embed_and_add(archive, list(pending.items()), progress, on_progress, timings)
            pending.clear()
            saver.dirty = True
        saver.maybe()


def _store_batch(archive: Archive, prepared: list[_Prepared], report: IngestReport) -> tuple[list[tuple[int, str]], list[int]]:
    """One SQL transaction: insert new articles, replace changed ones. Returns (new (chunk id, text to embed)), stale chunk ids."""
    if not prepared:
        return [], []
    now = datetime.now(UTC).replace(tzinfo=None)
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
                   on_progress: ProgressCallback | None, timings: IngestTimings | None = None) -> None:
    """Encode longest first in model batches and add each batch to FAISS, reporting progress per batch."""
    _check_backend(archive)
    timings = timings or IngestTimings()
    ids = np.fromiter((cid for cid, _ in chunks), dtype=np.int64, count=len(chunks))
    texts = [t for _, t in chunks]
    batches = archive.encoder.iter_encode(texts, archive.settings.batch_size)
    while True:
        tick = time.perf_counter()
        step = next(batches, None)
        timings.encode += time.perf_counter() - tick
        if step is None:
            return
        rows, vectors = step
        tick = time.perf_counter()
        archive.vectors.add(ids[rows], vectors)
        timings.add += time.perf_counter() - tick
        progress.chunks_embedded += len(rows)
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
    saver = _Saver(archive)
    if len(orphans):
        archive.vectors.remove(orphans)
        saver.dirty = True
    if len(missing):
        progress = IngestProgress(chunks_total=len(missing))
        step = max(archive.settings.batch_size * POOL_BATCHES, 1)
        for start in range(0, len(missing), step):
            _embed_and_add(archive, _chunk_inputs(archive, missing[start:start + step].tolist()), progress, on_progress)
            saver.dirty = True
            saver.maybe()  # a long re-embedding (reindex) resumes from here after a crash
    if saver.dirty or archive.vectors.fit_size(archive.settings.ann_threshold):
        saver.now()
    return len(missing), len(orphans)


def _check_backend(archive: Archive) -> None:
    """Refuse to write vectors whose manifest would name another encoder than the one that made them."""
    made_by = getattr(archive.encoder, "backend", "torch")
    if made_by != archive.settings.encoder:
        raise ModelError(f"the loaded encoder is '{made_by}' but ARCHIVE_ENCODER is '{archive.settings.encoder}'; "
                         "load it with archive.encoders.load_encoder(settings.encoder, ...)")


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
