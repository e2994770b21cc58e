"""Ingest: add articles (skipping duplicates, updating changed ones) with their vectors.

Order of work (docs/architecture.md): per step of articles, the new chunks are embedded and then
stored in one SQL transaction with their articles and their vectors (the keyword index follows by
trigger); after the commit the vectors are added to FAISS, which is saved (published) every few
seconds (`Saver`). SQL is the truth and holds every vector: every open for writing recovers
first, copying into FAISS what it lacks from SQL, so a crash at any point loses nothing committed
and recovery needs no model.

Freshness (docs/operations.md): a producer thread reads and chunks the next step while this one
embeds and commits; a step is about `save_seconds` of the model's measured speed (`Pace`), so an
article is committed within a step of being read and published to other processes by meaning
within `save_seconds` after that.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Sized
from dataclasses import dataclass, field

import numpy as np

from archive.archive import Archive
from archive.documents import Article, PreparedArticle, ReadFailure
from archive.executors import Executor, executor_for
from archive.store import writes
from archive.write import stories, threads
from archive.write.alerts import record_alerts
from archive.write.embed import IngestProgress, IngestTimings, ProgressCallback, Saver, check_backend
from archive.write.maintain import writing
from archive.write.prepare import embedding_text, prepare

ARTICLES_PER_TRANSACTION = 128
MIN_STEP = 8  # chunks: the smallest step and model batch (a slow or loaded machine)
POOL_BATCHES = 16  # at most batch_size * this chunks are sorted by length together (64 * 16 = 1024)


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


class Pace:
    """How many chunks one step holds: `seconds` (ARCHIVE_SAVE_SECONDS) of the embedder's measured speed.

    A step is one transaction (its articles, chunks and vectors), one embedding pool sorted by
    length, and one FAISS add; the model runs in batches of at most half a step, and the saver
    looks after each step. A fast encoder gets big steps, a slow one small ones: 50 chunks at 25
    chunks/s and the default 2 s, 8 on a machine so loaded it makes 4. The same setting paces the
    saves, so one knob trades freshness for throughput: bigger steps sort more texts together
    (less padding: up to ~15% faster with the real model).
    """

    def __init__(self, batch_size: int, seconds: float) -> None:
        self.seconds = seconds
        self.floor = max(min(batch_size, MIN_STEP), 1)
        self.ceiling = max(batch_size, 1) * POOL_BATCHES
        self.rate: float | None = None  # chunks/s of the embedder in this run

    @property
    def chunks(self) -> int:
        """The step: chunks per transaction (at most) and per embedding pool."""
        if self.rate is None:
            return self.floor
        return int(min(self.ceiling, max(self.floor, self.rate * self.seconds)))

    @property
    def batch(self) -> int:
        """Model batch: at most half a step."""
        return max(self.floor, self.chunks // 2)

    def measured(self, chunks: int, seconds: float) -> None:
        """Fold the speed of one pool into the running rate."""
        if chunks and seconds > 0:
            rate = chunks / seconds
            self.rate = rate if self.rate is None else 0.7 * self.rate + 0.3 * rate


def ingest(
    archive: Archive,
    items: Iterable[Article | ReadFailure],
    *,
    on_progress: ProgressCallback | None = None,
    batch_articles: int = ARTICLES_PER_TRANSACTION,
    articles_expected: int | None = None,
) -> IngestReport:
    """Store articles (skipping duplicates, updating changed ones) with their chunks' vectors.

    Two threads overlap the work: a producer reads and chunks the next step of articles while
    this thread embeds a step, commits it to SQL with its vectors, and adds them to FAISS.
    torch and onnxruntime release the GIL while they compute, so the producer's Python work hides
    behind the model. The producer stays one step ahead (a queue of one), so a kill loses at most
    the step being embedded, which was never committed.
    """
    report = IngestReport()
    if articles_expected is None and isinstance(items, Sized):
        articles_expected = len(items)
    progress = IngestProgress(articles_expected=articles_expected)
    started = time.perf_counter()
    with writing(archive):
        check_backend(archive)  # also loads the model (and its token counter) before the producer needs it
        executor = executor_for(archive)  # the model in this process, or on Ray actors (ARCHIVE_EMBED)
        batches: queue.Queue = queue.Queue(maxsize=1)  # the producer prepares one step ahead
        pace = Pace(archive.settings.batch_size, archive.settings.save_seconds)
        stop = threading.Event()
        producer = threading.Thread(
            target=_produce,
            name="ingest-store",
            daemon=True,
            args=(archive, items, batch_articles, report, progress, batches, stop, pace),
        )
        producer.start()
        saver = Saver(archive, report.timings, progress, on_progress)
        try:
            _consume(archive, executor, batches, report, progress, on_progress, saver, pace)
        finally:
            stop.set()
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
    pace: Pace,
) -> None:
    """Producer thread: read and prepare a step of articles, hand it to the embedder (waiting while it is busy)."""

    def hand_over(message: tuple) -> bool:
        while not stop.is_set():
            try:
                out.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    try:
        prepared: list[PreparedArticle] = []
        articles = chunks = 0
        for item in items:
            if stop.is_set():
                return
            tick = time.perf_counter()
            progress.articles_seen += 1
            articles += 1
            result = item if isinstance(item, ReadFailure) else prepare(archive, item)
            if isinstance(result, ReadFailure):
                report.failed.append(result)
            else:
                prepared.append(result)
                chunks += len(result.chunks)
            report.timings.prepare += time.perf_counter() - tick
            if articles >= batch_articles or chunks >= pace.chunks:
                if not hand_over(("batch", prepared)):
                    return
                prepared, articles, chunks = [], 0, 0
        if articles and not hand_over(("batch", prepared)):
            return
        hand_over(("done",))
    except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which re-raises it
        hand_over(("error", exc))


def _store_step(
    archive: Archive, executor: Executor, prepared: list[PreparedArticle], report: IngestReport, pace: Pace
) -> writes.BatchOutcome:
    """Embed the step's new chunks, then commit articles, chunks and vectors in one SQL transaction."""
    timings = report.timings
    encoded = 0.0

    def embed(texts: list[tuple[str, str]]) -> np.ndarray:
        nonlocal encoded
        tick = time.perf_counter()
        vectors = executor.encode(
            [embedding_text(prefix, text) for prefix, text in texts], min(archive.settings.batch_size, pace.batch)
        )
        encoded = time.perf_counter() - tick
        pace.measured(len(texts), encoded)
        return vectors

    tick = time.perf_counter()
    with archive.session() as s, s.begin():
        outcome = writes.save_batch(s, prepared, embed)
        stories.link(s.connection(), archive.settings, outcome.article_ids)  # near copies, in the same transaction
    timings.encode += encoded
    timings.store += time.perf_counter() - tick - encoded
    report.added += outcome.added
    report.updated += outcome.updated
    report.duplicates += len(outcome.duplicates)
    report.duplicate_of += outcome.duplicates
    report.chunks += len(outcome.new_chunks)
    return outcome


def _consume(
    archive: Archive,
    executor: Executor,
    batches: queue.Queue,
    report: IngestReport,
    progress: IngestProgress,
    on_progress: ProgressCallback | None,
    saver: Saver,
    pace: Pace,
) -> None:
    """Embedder (main thread): each step embedded and committed, then added to FAISS and published."""
    timings = saver.timings
    while True:
        tick = time.perf_counter()
        message = _next_message(batches, saver)
        timings.wait += time.perf_counter() - tick
        if message[0] == "error":
            raise message[1]
        if message[0] == "done":
            return
        outcome = _store_step(archive, executor, message[1], report, pace)
        progress.batches_committed += 1
        progress.chunks_total += len(outcome.new_chunks)
        if on_progress:
            on_progress(progress)  # committed (with vectors in SQL), not yet in FAISS
        tick = time.perf_counter()
        if outcome.stale_chunk_ids:  # an updated article: its old chunks are gone from SQL
            archive.vectors.remove(outcome.stale_chunk_ids)
            saver.dirty = True
        if outcome.new_chunks and outcome.vectors is not None:
            new_ids = np.asarray([cid for cid, _, _ in outcome.new_chunks], dtype=np.int64)
            archive.vectors.add(new_ids, outcome.vectors)
            saver.dirty = True
        timings.add += time.perf_counter() - tick
        if outcome.new_chunks and outcome.vectors is not None:
            tick = time.perf_counter()
            record_alerts(archive, new_ids, outcome.vectors)  # the saved searches these new articles match
            timings.alerts += time.perf_counter() - tick
            tick = time.perf_counter()
            threads.record(archive, new_ids)  # the story threads these new articles join
            timings.threads += time.perf_counter() - tick
        progress.chunks_embedded += len(outcome.new_chunks)
        if on_progress:
            on_progress(progress)
        saver.maybe()


def _next_message(batches: queue.Queue, saver: Saver) -> tuple:
    """The producer's next message; while the embedder waits for it, what is embedded still gets published."""
    while True:
        try:
            return batches.get(timeout=0.25 if saver.dirty else None)
        except queue.Empty:
            saver.maybe()
