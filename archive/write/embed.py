"""Chunk texts -> vectors -> SQL and FAISS, and the periodic atomic save of the index."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from archive.archive import Archive
from archive.errors import ModelError
from archive.executors import executor_for
from archive.store.vector_rows import rounded, write_vectors
from archive.write import threads
from archive.write.alerts import record_alerts


@dataclass
class IngestProgress:
    """Running totals, passed to the progress callback after each batch."""

    articles_seen: int = 0
    chunks_embedded: int = 0  # chunks whose vectors are in the (in-memory) FAISS index
    chunks_total: int = 0  # chunks committed so far, each with its vector in SQL
    articles_expected: int | None = None  # known when the input is a sized collection
    batches_committed: int = 0  # SQL transactions done (a test's kill points wait on these)
    saves: int = 0  # times the vector index was written

    @property
    def chunks_expected(self) -> int:
        """Chunks the whole run will embed: committed so far, extrapolated when the input size is known."""
        if self.articles_expected and self.articles_seen:
            estimate = round(self.chunks_total / self.articles_seen * self.articles_expected)
            return max(self.chunks_total, estimate)
        return self.chunks_total


ProgressCallback = Callable[[IngestProgress], None]


@dataclass
class IngestTimings:
    """Where an ingest spent its seconds (bench/ingest.py prints them): producer and embedder sides overlap."""

    prepare: float = 0.0  # producer: read, hash, chunk (token counting)
    store: float = 0.0  # producer: SQL transactions
    wait: float = 0.0  # embedder idle, waiting for a committed batch
    encode: float = 0.0  # embedder: the model
    add: float = 0.0  # embedder: FAISS add / remove
    save: float = 0.0  # embedder: writing the index
    alerts: float = 0.0  # embedder: matching the new articles against the saved searches
    threads: float = 0.0  # embedder: threading the new articles
    compact: float = 0.0  # after the run: merging the keyword index's pieces (`Settings.compact_after`)

    def as_dict(self) -> dict[str, float]:
        """Rounded seconds."""
        return {k: round(v, 3) for k, v in self.__dict__.items()}


SAVE_COST_FACTOR = 20  # saves stay this many times their own duration apart: at most ~5% of a write's time
SAVE_COST_WINDOW = 5  # ... their typical duration: the fastest of the last few (an fsync stall is noise)


class Saver:
    """Saves (publishes) the vector index every `save_seconds` during a write, checked after each model batch.

    Other processes reload the saved file (`Archive.vectors`), so this step bounds how long a
    committed article stays unfindable by meaning elsewhere, and how much embedding a kill loses.
    A big index takes long to write: the interval grows to SAVE_COST_FACTOR times a typical save
    (the fastest of the last SAVE_COST_WINDOW: a slow fsync on a busy disk, or the first save of a
    run into a cold cache, must not stretch the next interval, and with it the freshness, tenfold;
    an index that is slow to write every time is still seen within a few saves).
    """

    def __init__(
        self,
        archive: Archive,
        timings: IngestTimings | None = None,
        progress: IngestProgress | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.archive = archive
        self.timings = timings or IngestTimings()
        self.progress = progress
        self.on_progress = on_progress
        self.dirty = False
        self._interval = archive.settings.save_seconds
        self._last = time.monotonic()
        self._costs: list[float] = []  # durations of the last saves (the file writes, not index rebuilds)

    def maybe(self) -> None:
        """Save if the index changed and the interval has passed."""
        if self.dirty and time.monotonic() - self._last >= self._interval:
            self.now()

    def now(self) -> None:
        """Save now (choosing the index type for the new size first)."""
        started = time.monotonic()
        self.archive.vectors.fit_size(self.archive.settings.ann_threshold, self.archive.settings.compress_threshold)
        writing = time.monotonic()
        self.archive.save_vectors()
        took = time.monotonic() - writing
        self.timings.save += time.monotonic() - started
        self._costs = [*self._costs[1 - SAVE_COST_WINDOW :], took]
        self._interval = max(self.archive.settings.save_seconds, SAVE_COST_FACTOR * min(self._costs))
        self._last, self.dirty = time.monotonic(), False
        if self.progress is not None:
            self.progress.saves += 1
            if self.on_progress:
                self.on_progress(self.progress)


def check_backend(archive: Archive) -> None:
    """Refuse to write vectors whose manifest would name another encoder than the one that made them."""
    made_by = archive.encoder.backend
    if made_by != archive.settings.encoder:
        raise ModelError(
            f"the loaded encoder is '{made_by}' but ARCHIVE_ENCODER is '{archive.settings.encoder}'; "
            "load it with archive.encoders.load_encoder(settings.encoder, ...)"
        )


def embed_and_add(
    archive: Archive,
    chunks: list[tuple[int, str]],
    progress: IngestProgress,
    on_progress: ProgressCallback | None,
    timings: IngestTimings | None = None,
    saver: Saver | None = None,
    batch_size: int | None = None,
) -> None:
    """Encode longest first in model batches (of `batch_size`, default the setting); store each batch's vectors
    in SQL (one transaction per batch), add them to FAISS, report progress, and let `saver` publish.

    For chunks stored without a vector (archives older than migration 0004) and `archive reindex`;
    ingest embeds before its commit instead (`write.ingest`)."""
    check_backend(archive)
    timings = timings or IngestTimings()
    ids = np.fromiter((cid for cid, _ in chunks), dtype=np.int64, count=len(chunks))
    texts = [t for _, t in chunks]
    # In this process or on Ray actors (ARCHIVE_EMBED); each batch is written here as it comes back.
    batches = executor_for(archive).iter_encode(texts, batch_size or archive.settings.batch_size)
    added: list[tuple[np.ndarray, np.ndarray]] = []  # (ids, vectors) of this call: what the alerts look at
    while True:
        tick = time.perf_counter()
        step = next(batches, None)
        timings.encode += time.perf_counter() - tick
        if step is None:
            break
        rows, vectors = step
        vectors = rounded(vectors)
        added.append((ids[rows], vectors))
        tick = time.perf_counter()
        with archive.engine.begin() as conn:
            write_vectors(conn, ids[rows].tolist(), vectors)
        archive.vectors.add(ids[rows], vectors)  # a short lock: searches of this process go on between batches
        timings.add += time.perf_counter() - tick
        progress.chunks_embedded += len(rows)
        if on_progress:
            on_progress(progress)
        if saver is not None:
            saver.dirty = True
            saver.maybe()
    if added:
        tick = time.perf_counter()
        record_alerts(archive, np.concatenate([i for i, _ in added]), np.concatenate([v for _, v in added]))
        timings.alerts += time.perf_counter() - tick
        tick = time.perf_counter()
        threads.record(archive, np.concatenate([i for i, _ in added]))
        timings.threads += time.perf_counter() - tick
