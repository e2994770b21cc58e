"""Ingest: add articles (skipping duplicates, updating changed ones) and embed their chunks.

Order of work (docs/architecture.md): SQL first, in one transaction per batch (articles and
chunks together; the keyword index follows by trigger); then vectors are embedded and added
to FAISS, which is saved atomically from time to time. SQL is the truth: every open for
writing recovers first, so a crash at any point loses nothing committed.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Sized
from dataclasses import dataclass, field
from itertools import islice

from archive.archive import Archive
from archive.documents import Article, PreparedArticle, ReadFailure
from archive.store import writes
from archive.write.embed import IngestProgress, IngestTimings, ProgressCallback, Saver, check_backend, embed_and_add
from archive.write.maintain import writing
from archive.write.prepare import embedding_text, prepare

ARTICLES_PER_TRANSACTION = 128
LOOKAHEAD_BATCHES = 6  # committed batches waiting for the embedder (bounds the work a crash leaves to recover)
POOL_BATCHES = 16  # chunks sorted by length together: batch_size * this (64 * 16 = 1024)


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
            "added": self.added,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "failed": len(self.failed),
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "failures": [{"origin": f.origin, "reason": f.reason} for f in self.failed],
        }


def _batched(items: Iterable, n: int) -> Iterator[list]:
    it = iter(items)
    while batch := list(islice(it, n)):
        yield batch


def ingest(
    archive: Archive,
    items: Iterable[Article | ReadFailure],
    *,
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
    with writing(archive):
        check_backend(archive)  # also loads the model (and its token counter) before the producer needs it
        batches: queue.Queue = queue.Queue(maxsize=LOOKAHEAD_BATCHES)
        stop = threading.Event()
        producer = threading.Thread(
            target=_produce,
            name="ingest-store",
            daemon=True,
            args=(archive, items, batch_articles, report, progress, batches, stop),
        )
        producer.start()
        saver = Saver(archive, report.timings, progress, on_progress)
        try:
            _consume(archive, batches, progress, on_progress, saver)
        finally:
            stop.set()
            while producer.is_alive():  # unblock a producer waiting on a full queue
                with contextlib.suppress(queue.Empty):
                    batches.get(timeout=0.05)
            producer.join()
        if saver.dirty:
            saver.now()
    report.seconds = time.perf_counter() - started
    return report


def _produce(
    archive: Archive,
    items: Iterable[Article | ReadFailure],
    batch_articles: int,
    report: IngestReport,
    progress: IngestProgress,
    out: queue.Queue,
    stop: threading.Event,
) -> None:
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
            prepared: list[PreparedArticle] = []
            for item in batch:
                progress.articles_seen += 1
                result = item if isinstance(item, ReadFailure) else prepare(archive, item)
                if isinstance(result, ReadFailure):
                    report.failed.append(result)
                else:
                    prepared.append(result)
            report.timings.prepare += time.perf_counter() - tick
            tick = time.perf_counter()
            new_chunks, stale_ids = _store_batch(archive, prepared, report)
            report.timings.store += time.perf_counter() - tick
            progress.chunks_total += len(new_chunks)
            progress.batches_committed += 1
            if not put(("batch", new_chunks, stale_ids)):
                return
        put(("done",))
    except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which re-raises it
        put(("error", exc))


def _store_batch(
    archive: Archive, prepared: list[PreparedArticle], report: IngestReport
) -> tuple[list[tuple[int, str]], list[int]]:
    """One SQL transaction; returns (new (chunk id, text to embed)), stale chunk ids)."""
    if not prepared:
        return [], []
    with archive.session() as s, s.begin():
        outcome = writes.save_batch(s, prepared)
    report.added += outcome.added
    report.updated += outcome.updated
    report.duplicates += len(outcome.duplicates)
    report.duplicate_of += outcome.duplicates
    report.chunks += len(outcome.new_chunks)
    return [(cid, embedding_text(prefix, text)) for cid, prefix, text in outcome.new_chunks], outcome.stale_chunk_ids


def _consume(
    archive: Archive, batches: queue.Queue, progress: IngestProgress, on_progress: ProgressCallback | None, saver: Saver
) -> None:
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
            embed_and_add(archive, list(pending.items()), progress, on_progress, timings)
            pending.clear()
            saver.dirty = True
        saver.maybe()
