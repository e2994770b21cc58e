"""Ingest: add articles (skipping duplicates, updating changed ones) with their vectors.

Order of work (docs/architecture.md): per step of articles, the new chunks are embedded and then
stored in one SQL transaction with their articles and their vectors (the keyword index follows by
trigger); after the commit the vectors are added to FAISS, which is saved (published) every few
seconds (`Saver`). SQL is the truth and holds every vector: every open for writing recovers
first, copying into FAISS what it lacks from SQL, so a crash at any point loses nothing committed
and recovery needs no model.

Three threads keep the model busy: a producer reads and chunks the next step, an encoder thread
embeds a step while the main thread commits the step before it (SQL, near copies, FAISS, alerts,
threads). Freshness (docs/operations.md): a step is about `save_seconds` of the model's measured
speed (`Pace`), so an article is committed within two steps of being read and published to other
processes by meaning within `save_seconds` after that.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sized
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from archive.archive import Archive
from archive.documents import DATE_RAW, Article, PreparedArticle, ReadFailure
from archive.executors import Executor, executor_for
from archive.store import reads, writes
from archive.write import stories, threads
from archive.write.alerts import record_alerts
from archive.write.embed import IngestProgress, IngestTimings, ProgressCallback, Saver, check_backend
from archive.write.maintain import compact, writing
from archive.write.pace import Pace
from archive.write.prepare import embedding_text, prepare

ARTICLES_PER_TRANSACTION = 128
POLL_SECONDS = 0.05  # while a step is being encoded, how often the main thread looks whether it can commit it
# While an ingest runs, a thread waiting for the GIL gets it after at most this long (Python's default: 5 ms).
# The encoder thread takes the GIL back after every model call and NumPy step while the producer and the
# committer run Python: 0.89x -> 1.06x the raw encode in a paired run, 0.85-0.87 -> 0.88-0.905 in bench.ingest
# (docs/performance.md, "Ingest at the model's speed").
SWITCH_INTERVAL = 0.0005
# While an ingest runs, NumPy's BLAS (the threads' and alerts' matrix products) runs on the calling thread: its
# worker threads spin for a while after every call (0.3-0.7 s of CPU per 1,000 SciFact abstracts), on the
# cores the model needs (docs/performance.md, "The write path's own CPU").
BLAS_THREADS = 1

_tuning_lock = threading.Lock()
_tuning_users = 0  # ingests running in this process (both settings are process-wide)
_tuning_saved: tuple[float, threadpool_limits] | None = None  # as they were before the first of them


@dataclass
class IngestReport:
    """What an ingest did: counts plus the reason for every skip and failure."""

    added: int = 0
    updated: int = 0
    duplicates: int = 0
    failed: list[ReadFailure] = field(default_factory=list)
    duplicate_of: list[tuple[str, str]] = field(default_factory=list)  # (origin, existing uid)
    undated: list[tuple[str, str]] = field(default_factory=list)  # (origin, its published_at not understood)
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
            "undated": [{"origin": origin, "published_at": raw} for origin, raw in self.undated],
        }


def ingest(
    archive: Archive,
    items: Iterable[Article | ReadFailure],
    *,
    on_progress: ProgressCallback | None = None,
    batch_articles: int = ARTICLES_PER_TRANSACTION,
    articles_expected: int | None = None,
) -> IngestReport:
    """Store articles (skipping duplicates, updating changed ones) with their chunks' vectors.

    Three threads overlap the work: a producer reads and chunks the next step of articles, an
    encoder thread embeds a step, and this thread commits the step before it to SQL with its
    vectors and adds them to FAISS. The runtimes release the GIL while they compute, so the
    Python work hides behind the model, and the GIL changes hands within SWITCH_INTERVAL meanwhile
    (`while_ingesting`, which also keeps NumPy's BLAS on one thread): the encoder thread, back from the model, does not wait on the others'
    Python. The producer stays one step ahead (a queue of one), so a
    kill loses at most the two steps being embedded and committed, neither of them committed.
    """
    report = IngestReport()
    if articles_expected is None and isinstance(items, Sized):
        articles_expected = len(items)
    progress = IngestProgress(articles_expected=articles_expected)
    started = time.perf_counter()
    with while_ingesting():
        _ingest(archive, items, report, progress, on_progress, batch_articles)
    if 0 < archive.settings.compact_after <= report.added:  # a bulk load leaves the keyword index in pieces
        report.timings.compact = compact(archive)[1]
    report.seconds = time.perf_counter() - started
    return report


@contextlib.contextmanager
def while_ingesting() -> Iterator[None]:
    """While any ingest of this process runs: Python's switch interval at most SWITCH_INTERVAL and NumPy's BLAS on
    BLAS_THREADS; then both as they were (the last ingest out restores them)."""
    global _tuning_users, _tuning_saved
    with _tuning_lock:
        if _tuning_users == 0:
            interval = sys.getswitchinterval()
            _tuning_saved = (interval, threadpool_limits(limits=BLAS_THREADS, user_api="blas"))
            sys.setswitchinterval(min(interval, SWITCH_INTERVAL))
        _tuning_users += 1
    try:
        yield
    finally:
        with _tuning_lock:
            _tuning_users -= 1
            if _tuning_users == 0 and _tuning_saved is not None:
                sys.setswitchinterval(_tuning_saved[0])
                _tuning_saved[1].restore_original_limits()
                _tuning_saved = None


def _ingest(
    archive: Archive,
    items: Iterable[Article | ReadFailure],
    report: IngestReport,
    progress: IngestProgress,
    on_progress: ProgressCallback | None,
    batch_articles: int,
) -> None:
    """`ingest`'s body: the three threads, under the archive's write lock."""
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
        recorder = threads.Recorder(archive)
        try:
            _consume(archive, executor, batches, report, progress, on_progress, saver, pace, recorder)
        except Exception:
            recorder.flush()  # the steps committed before the failure keep their threads (`record` never raises)
            raise
        finally:
            stop.set()
            producer.join()
        recorder.flush()
        report.timings.threads += recorder.seconds
        if saver.dirty:
            saver.now()


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
            if isinstance(item, Article) and item.published_at is None and DATE_RAW in item.extra:
                report.undated.append((item.origin, str(item.extra[DATE_RAW])))
            if isinstance(result, ReadFailure):
                report.failed.append(result)
            else:
                prepared.append(result)
                chunks += len(result.chunks)
            report.timings.prepare += time.perf_counter() - tick
            if articles >= batch_articles or chunks >= pace.chunks:
                if not hand_over(("batch", prepared)):
                    return
                pace.handed()
                prepared, articles, chunks = [], 0, 0
        if articles and not hand_over(("batch", prepared)):
            return
        hand_over(("done",))
    except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which re-raises it
        hand_over(("error", exc))


@dataclass
class Encoded:
    """A step's vectors, made ahead of its commit: embedding text -> row of `vectors`."""

    rows: dict[str, int]
    vectors: np.ndarray
    seconds: float


def _encode_step(archive: Archive, executor: Executor, prepared: list[PreparedArticle], pace: Pace) -> Encoded:
    """Encoder thread: the vectors of a step's chunks (longest first), except those of articles already stored.

    Runs while the previous step commits, so the model never waits for SQL. Articles whose text
    is stored are duplicates, which `save_batch` skips: re-reading a file embeds nothing.
    """
    with archive.engine.connect() as conn:
        known = reads.known_hashes(conn, (p.content_hash for p in prepared))
    texts = list(
        dict.fromkeys(
            embedding_text(p.embed_prefix, c.text) for p in prepared if p.content_hash not in known for c in p.chunks
        )
    )
    tick = time.perf_counter()
    if texts:
        vectors = executor.encode(texts, min(archive.settings.batch_size, pace.batch))
    else:
        vectors = np.zeros((0, archive.encoder.dim), dtype=np.float32)
    seconds = time.perf_counter() - tick
    pace.measured(len(texts), seconds)
    return Encoded({t: i for i, t in enumerate(texts)}, vectors, seconds)


def _store_step(
    archive: Archive, prepared: list[PreparedArticle], encoded: Encoded, report: IngestReport, pace: Pace
) -> writes.BatchOutcome:
    """Commit a step's articles, chunks and their vectors (made ahead: `encoded`) in one SQL transaction."""
    timings = report.timings

    def embed(texts: list[tuple[str, str]]) -> np.ndarray:
        keys = [embedding_text(prefix, text) for prefix, text in texts]
        missing = [k for k in dict.fromkeys(keys) if k not in encoded.rows]
        if missing:  # not expected (the write lock is held), but never a chunk without its vector
            extra = archive.encoder.encode(missing, min(archive.settings.batch_size, pace.batch))
            encoded.rows.update({k: len(encoded.vectors) + i for i, k in enumerate(missing)})
            encoded.vectors = np.vstack([encoded.vectors, extra])
        return encoded.vectors[[encoded.rows[k] for k in keys]]

    tick = time.perf_counter()
    with archive.session() as s, s.begin():
        outcome = writes.save_batch(s, prepared, embed)
        stories.link(s.connection(), archive.settings, outcome.article_ids)  # near copies, in the same transaction
    timings.encode += encoded.seconds
    timings.store += time.perf_counter() - tick
    report.added += outcome.added
    report.updated += outcome.updated
    report.duplicates += len(outcome.duplicates)
    report.duplicate_of += outcome.duplicates
    report.chunks += len(outcome.new_chunks)
    return outcome


Step = tuple[list[PreparedArticle], "Future[Encoded]"]


def _consume(
    archive: Archive,
    executor: Executor,
    batches: queue.Queue,
    report: IngestReport,
    progress: IngestProgress,
    on_progress: ProgressCallback | None,
    saver: Saver,
    pace: Pace,
    recorder: threads.Recorder,
) -> None:
    """Main thread: each step encoded on the encoder thread while the step before it commits (then FAISS, publish).

    A step commits as soon as its vectors are made and the step before it is committed, whether
    or not the next one has arrived: a slow source does not hold a step back.
    """
    timings = saver.timings
    pending: Step | None = None  # submitted to the encoder, not yet committed
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-encode") as encoder:
        try:
            while True:
                message = None
                while message is None:
                    tick = time.perf_counter()
                    try:
                        message = batches.get(timeout=POLL_SECONDS if pending or saver.dirty else None)
                    except queue.Empty:
                        timings.wait += time.perf_counter() - tick
                        if pending is not None and pending[1].done():
                            _commit(archive, pending, report, progress, on_progress, saver, pace, recorder)
                            pending = None
                        saver.maybe()
                        continue
                    timings.wait += time.perf_counter() - tick
                step = None
                if message[0] == "batch":
                    step = (message[1], encoder.submit(_encode_step, archive, executor, message[1], pace))
                if pending is not None:  # its vectors are being made or made; the next step's are queued
                    _commit(archive, pending, report, progress, on_progress, saver, pace, recorder)
                if message[0] == "error":
                    raise message[1]
                if step is None:
                    return
                pending = step
        finally:
            if pending is not None:
                pending[1].cancel()


def _commit(
    archive: Archive,
    step: Step,
    report: IngestReport,
    progress: IngestProgress,
    on_progress: ProgressCallback | None,
    saver: Saver,
    pace: Pace,
    recorder: threads.Recorder,
) -> None:
    """Commit one step (waiting for its vectors), add its vectors to FAISS, record alerts and threads, maybe publish."""
    timings = saver.timings
    tick = time.perf_counter()
    encoded = step[1].result()
    timings.wait += time.perf_counter() - tick
    outcome = _store_step(archive, step[0], encoded, report, pace)
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
        recorder.add(new_ids)  # the story threads these new articles join (now or with a later step's)
    progress.chunks_embedded += len(outcome.new_chunks)
    if on_progress:
        on_progress(progress)
    saver.maybe()
