"""Story threads kept current: thread newly embedded articles, and the backfill (`archive threads`).

The write path calls `record` (through `Recorder`) for the steps embedded in the last RECORD_SECONDS and
when it ends (after their vectors are in the index): those articles whose every passage has a vector are
threaded (`archive.threads.assign`) against the articles of their time window, in one transaction. An
updated article is embedded again and so threaded afresh; a deleted one leaves its thread (the row
cascades) and the thread keeps its id. A failure is logged, never raised: the articles are what must be kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from sqlalchemy import Connection

from archive import threads
from archive.archive import Archive, read_only
from archive.config import Settings
from archive.store import threads as store

log = logging.getLogger(__name__)

RECORD_SECONDS = 15.0  # the write path threads its new articles this often (and when it ends): a thread lags that much


@dataclass
class BackfillReport:
    """What a backfill did."""

    articles: int = 0  # articles threaded by this run
    threaded: int = 0  # in the whole archive afterwards
    threads: int = 0
    shared: int = 0  # threads of more than one article
    seconds: float = 0.0

    def as_dict(self) -> dict:
        """JSON-ready summary."""
        return {**self.__dict__, "seconds": round(self.seconds, 3)}


def params(settings: Settings) -> threads.Params:
    """The thresholds of these settings."""
    return threads.Params(settings.thread_similarity, settings.thread_days, settings.thread_word_share)


def article_vectors(archive: Archive, chunk_rows: Sequence[tuple[int, int]]) -> dict[int, np.ndarray]:
    """article id -> article vector, for the articles whose every chunk has a vector in the index."""
    if not chunk_rows:
        return {}
    chunk_ids = np.fromiter((c for c, _ in chunk_rows), dtype=np.int64, count=len(chunk_rows))
    present = np.isin(chunk_ids, archive.vectors.ids())
    by_article: dict[int, list[int]] = {}
    missing: set[int] = set()
    for (cid, aid), ok in zip(chunk_rows, present, strict=True):
        by_article.setdefault(aid, []).append(cid)
        if not ok:
            missing.add(aid)
    kept = [(aid, cids) for aid, cids in by_article.items() if aid not in missing]
    if not kept:
        return {}
    wanted = [cid for _, cids in kept for cid in cids]
    starts = np.cumsum([0] + [len(cids) for _, cids in kept[:-1]])
    sums = np.add.reduceat(archive.vectors.vectors(wanted), starts, axis=0)  # one read, one sum per article
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    means = sums / np.where(norms > 0, norms, 1.0)  # the normalised mean is the normalised sum
    return {aid: means[i] for i, (aid, _) in enumerate(kept)}


def thread_articles(
    archive: Archive, conn: Connection, facts: list[store.Fact], fresh: set[int], reach: tuple | None = None
) -> int:
    """Thread the `fresh` articles among `facts` (known threads included); returns how many.

    Articles outside `reach` (a (start, end) time span: the fresh articles' windows) and those without
    vectors count for the rarity of title words only.
    """
    start, end = reach or (None, None)
    near = [f for f in facts if reach is None or (f[1] is not None and start <= f[1] <= end) or f[0] in fresh]
    vectors = article_vectors(archive, store.chunk_ids(conn, [f[0] for f in near]))
    dim = archive.vectors.dim
    items, rows = [], []
    for aid, at, title, story, thread in facts:
        vector = vectors.get(aid)
        decide = aid in fresh and vector is not None
        items.append(
            threads.Item(
                aid, at, threads.title_words(title), story, None if decide else thread, words_only=vector is None
            )
        )
        rows.append(vector if vector is not None else np.zeros(dim, np.float32))
    if not items:
        return 0
    decided = threads.assign(items, np.vstack(rows), params(archive.settings))
    when = {f[0]: f[1] for f in facts}
    store.save(conn, [(aid, thread, when[aid]) for aid, thread in decided.items()])
    return len(decided)


def record(archive: Archive, chunk_ids: np.ndarray) -> None:
    """Thread the articles of a newly embedded step (the write path's hook; logs failures, never raises)."""
    try:
        owners = archive.chunk_owners.lookup([int(c) for c in chunk_ids])
        fresh = set(owners.values())
        if not fresh:
            return
        span = timedelta(days=archive.settings.thread_days)
        wide = timedelta(days=max(archive.settings.thread_days, threads.WORD_DAYS))
        with archive.engine.begin() as conn:
            mine = store.facts(conn, sorted(fresh))
            times = [at for _, at, _, _, _ in mine if at is not None]
            around = store.window(conn, min(times) - wide, max(times) + wide) if times else []
            reach = (min(times) - span, max(times) + span) if times else None
            known = {f[0] for f in mine}
            # Articles of the window embedded but never threaded (a crash between the index save and this
            # step) are threaded now too; those still waiting for their vectors are counted, not decided.
            if reach is not None:
                fresh |= {f[0] for f in around if f[4] is None and f[1] is not None and reach[0] <= f[1] <= reach[1]}
            thread_articles(archive, conn, mine + [f for f in around if f[0] not in known], fresh, reach)
    except Exception:
        log.exception("threading the new articles failed; the articles are stored, their thread is not")


class Recorder:
    """The write path's threading: the articles of its steps threaded together, at most every RECORD_SECONDS.

    Each `record` call reads and weighs its whole time window (the titles of 30 days either side, the vectors of
    `thread_days`), which costs about as much for one step's articles as for a minute's; threading every step
    made that cost per step. `flush` threads what is left (the write path calls it when it ends or fails)."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.pending: list[np.ndarray] = []
        self.last = time.monotonic()
        self.seconds = 0.0  # spent threading

    def add(self, chunk_ids: np.ndarray) -> None:
        """Newly embedded chunks (in the index): their articles are threaded now or with a later step's."""
        self.pending.append(chunk_ids)
        if time.monotonic() - self.last >= RECORD_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Thread the articles added since the last time."""
        if self.pending:
            tick = time.perf_counter()
            record(self.archive, np.concatenate(self.pending))
            self.seconds += time.perf_counter() - tick
        self.pending, self.last = [], time.monotonic()


def backfill(
    archive: Archive, *, rebuild: bool = False, on_done: Callable[[int], None] | None = None
) -> BackfillReport:
    """Thread every article without a thread (all of them after `rebuild`), from the stored vectors: no model.

    One pass in time order over the whole archive in memory (article vectors: 1.5 kB each), one transaction.
    """
    if archive.read_only:
        raise read_only(archive.index_dir)
    report = BackfillReport()
    started = time.perf_counter()
    with archive.locked(), archive.engine.begin() as conn:
        if rebuild:
            store.clear(conn)
        facts = store.all_facts(conn)
        fresh = {f[0] for f in facts if f[4] is None}
        if fresh:
            report.articles = thread_articles(archive, conn, facts, fresh)
        report.threaded, report.threads, report.shared = store.counts(conn)
    if on_done:
        on_done(report.articles)
    report.seconds = time.perf_counter() - started
    return report
