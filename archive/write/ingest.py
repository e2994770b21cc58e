"""Ingest: add articles (skipping duplicates, updating changed ones) and embed their chunks.

Order of work (docs/architecture.md): SQL first, in one transaction per batch (articles and
chunks together; the keyword index follows by trigger); then vectors are embedded and added
to FAISS, which is saved atomically every few seconds (`Saver`). SQL is the truth: every open
for writing recovers first, so a crash at any point loses nothing committed.

Freshness (docs/operations.md): the producer commits a batch only when the embedder is nearly
through the previous one (`Pace`), so an article waits for its vectors a few seconds at most,
and the saver publishes them to other processes within `save_seconds` after that.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Sized
from dataclasses import dataclass, field

from archive.archive import Archive
from archive.documents import Article, PreparedArticle, ReadFailure
from archive.store import writes
from archive.write import stories
from archive.write.embed import IngestProgress, IngestTimings, ProgressCallback, Saver, check_backend, embed_and_add
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
    """How many committed chunks may wait for the embedder: `seconds` (ARCHIVE_SAVE_SECONDS) of its measured speed.

    The producer commits its next batch (at most this many chunks) only once the backlog is down
    to half of it, so a committed article gets its vectors within ~1.5 steps; the embedder pools
    up to a step of chunks to sort by length, and encodes model batches of at most half a step (a
    model batch is the unit added, and the saver looks after each). A fast encoder gets big steps,
    a slow one small ones: 50 chunks at 25 chunks/s and the default 2 s, 8 on a machine so loaded
    it makes 4.
    The same setting paces the saves, so one knob trades freshness for throughput: bigger steps
    sort more texts together (less padding: up to ~15% faster with the real model).
    """

    def __init__(self, batch_size: int, seconds: float) -> None:
        self.seconds = seconds
        self.floor = max(min(batch_size, MIN_STEP), 1)
        self.ceiling = max(batch_size, 1) * POOL_BATCHES
        self.rate: float | None = None  # chunks/s of the embedder in this run
        self.backlog = 0  # committed chunks not embedded (nor dropped as stale) yet
        self.changed = threading.Condition()

    @property
    def chunks(self) -> int:
        """The step: chunks per transaction (at most), per embedding pool, and at most per model batch."""
        if self.rate is None:
            return self.floor
        return int(min(self.ceiling, max(self.floor, self.rate * self.seconds)))

    @property
    def batch(self) -> int:
        """Model batch: at most half a step, so the saver (checked after each batch) is never late by more than that."""
        return max(self.floor, self.chunks // 2)

    def measured(self, chunks: int, seconds: float) -> None:
        """Fold the speed of one pool into the running rate."""
        if chunks and seconds > 0:
            rate = chunks / seconds
            self.rate = rate if self.rate is None else 0.7 * self.rate + 0.3 * rate

    def add(self, n: int) -> None:
        """The producer committed n chunks; the embedder finished (n < 0) some."""
        with self.changed:
            self.backlog += n
            self.changed.notify_all()

    def wait_for_room(self, stop: threading.Event) -> bool:
        """Block until the backlog is down to half a step; False when the run is stopping."""
        with self.changed:
            while self.backlog > self.chunks // 2:
                if stop.is_set():
                    return False
                self.changed.wait(0.1)
        return not stop.is_set()


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
    Python work hides behind the model. The producer commits at most about one pace ahead
    (`Pace`), so a committed article is embedded within seconds, and a crash leaves little
    committed-but-unembedded work for `recover` to redo.
    """
    report = IngestReport()
    if articles_expected is None and isinstance(items, Sized):
        articles_expected = len(items)
    progress = IngestProgress(articles_expected=articles_expected)
    started = time.perf_counter()
    with writing(archive):
        check_backend(archive)  # also loads the model (and its token counter) before the producer needs it
        batches: queue.Queue = queue.Queue()  # bounded by the pace: the producer waits before it commits
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
            _consume(archive, batches, progress, on_progress, saver, pace)
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
    """Producer thread: read and prepare a step of articles, commit it when the embedder has room, hand it over."""

    def commit(prepared: list[PreparedArticle]) -> bool:
        if not pace.wait_for_room(stop):
            return False
        tick = time.perf_counter()
        new_chunks, stale_ids = _store_batch(archive, prepared, report)
        report.timings.store += time.perf_counter() - tick
        progress.chunks_total += len(new_chunks)
        progress.batches_committed += 1
        pace.add(len(new_chunks))
        out.put(("batch", new_chunks, stale_ids))
        return True

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
                if not commit(prepared):
                    return
                prepared, articles, chunks = [], 0, 0
        if articles and not commit(prepared):
            return
        out.put(("done",))
    except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which re-raises it
        out.put(("error", exc))


def _store_batch(
    archive: Archive, prepared: list[PreparedArticle], report: IngestReport
) -> tuple[list[tuple[int, str]], list[int]]:
    """One SQL transaction; returns (new (chunk id, text to embed)), stale chunk ids)."""
    if not prepared:
        return [], []
    with archive.session() as s, s.begin():
        outcome = writes.save_batch(s, prepared)
        stories.link(s.connection(), archive.settings, outcome.article_ids)  # near copies, in the same transaction
    report.added += outcome.added
    report.updated += outcome.updated
    report.duplicates += len(outcome.duplicates)
    report.duplicate_of += outcome.duplicates
    report.chunks += len(outcome.new_chunks)
    return [(cid, embedding_text(prefix, text)) for cid, prefix, text in outcome.new_chunks], outcome.stale_chunk_ids


def _consume(
    archive: Archive,
    batches: queue.Queue,
    progress: IngestProgress,
    on_progress: ProgressCallback | None,
    saver: Saver,
    pace: Pace,
) -> None:
    """Embedder (main thread): pool committed chunks, encode them longest first, add to FAISS, publish."""
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
            dropped = sum(pending.pop(cid, None) is not None for cid in stale_ids)
            pace.add(-dropped)
            tick = time.perf_counter()
            archive.vectors.remove(stale_ids)
            timings.add += time.perf_counter() - tick
            saver.dirty = True
        pending.update(new_chunks)
        if on_progress:
            on_progress(progress)
        return False

    counted = progress.chunks_embedded

    def embedded(p: IngestProgress) -> None:
        nonlocal counted
        pace.add(counted - p.chunks_embedded)  # a model batch done: the producer may commit the next step
        counted = p.chunks_embedded
        if on_progress:
            on_progress(p)

    while not done or pending:
        if not pending:
            tick = time.perf_counter()
            message = _next_message(batches, saver)
            timings.wait += time.perf_counter() - tick
            done = take(message)
        # Take whatever else is ready (up to a step): more texts to sort means less padding.
        while not done and len(pending) < pace.chunks:
            try:
                done = take(batches.get_nowait())
            except queue.Empty:
                break
        if pending:
            tick = time.perf_counter()
            batch = min(archive.settings.batch_size, pace.batch)
            embed_and_add(archive, list(pending.items()), progress, embedded, timings, saver, batch)
            pace.measured(len(pending), time.perf_counter() - tick)
            pending.clear()
        saver.maybe()


def _next_message(batches: queue.Queue, saver: Saver) -> tuple:
    """The producer's next message; while the embedder waits for it, what is embedded still gets published."""
    while True:
        try:
            return batches.get(timeout=0.25 if saver.dirty else None)
        except queue.Empty:
            saver.maybe()
