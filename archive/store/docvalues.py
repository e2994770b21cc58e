"""Doc values: what the facets, the date order, the story fold and the thread sizes read of each article, held in
memory as arrays indexed by article id, so that counting a result set is a look-up and a `bincount`, not a statement.

Per article: its source (a code into the list of sources), its publication time (microseconds since 1970,
`UNDATED` when none), its story (0: no near copies), its thread (0: none) and its labels of the asked fields
(rows (article, label code), sorted by article). Read from SQL once per process (Reuters: 0.2-0.3 s).

Kept current like `owners.py` keeps the chunk table: a `Mark` (the highest article id, the article count, the
highest chunk id (an update replaces the article's chunks, whose ids are never reused), checksums of the story
and thread columns) is read when SQLite's `PRAGMA data_version`, on a connection held for it, says another
connection committed, or PostgreSQL's write-ahead log position moved (`marks.py`). When it moved, only what changed is read again: articles
above the old highest id, articles owning chunks above the old highest chunk id, the story column, the threads
of articles threaded since; a deletion (the count fell short) reads everything again. Each refresh makes a new
`Snapshot`; a search keeps the one it started with. Labels filled in by a migration appear on reopening.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, String, cast, func, or_, select

from archive.store.cards import CARDS
from archive.store.filters import Counts, LabelCounts
from archive.store.marks import MOD as _MOD
from archive.store.marks import CommitWatch, Mark, read_mark
from archive.store.models import ArticleRow, ChunkRow, LabelRow, SignatureRow, ThreadRow

UNDATED = np.iinfo(np.int64).min  # publication time of an undated article
NO_SOURCE = -1
DAY_US = 86_400_000_000
EPOCH = datetime(1970, 1, 1)
EPOCH_DAY = EPOCH.toordinal()
REREAD_LIMIT = 10_000  # updated articles read again by id; more, or any deletion: everything is read again


def micros(value: datetime | None) -> int:
    """A naive UTC time as microseconds since 1970 (`UNDATED` for None): how `Snapshot.published` holds it."""
    if value is None:
        return int(UNDATED)
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True)
class Snapshot:
    """The doc values at one mark (never changed once made: a refresh makes a new one)."""

    mark: Mark
    present: np.ndarray  # bool, by article id
    source: np.ndarray  # int32 code into `sources`, NO_SOURCE for none
    sources: tuple[str | None, ...]
    published: np.ndarray  # int64 microseconds since 1970, UNDATED for none
    story: np.ndarray  # int32 story id, 0 for none
    thread: np.ndarray  # int32 thread id, 0 for none
    thread_size: np.ndarray  # int32 articles per thread id
    label_article: np.ndarray  # int32, one entry per label row, ascending ...
    label_code: np.ndarray  # ... and its code into `labels`
    labels: tuple[tuple[str, str], ...]  # code -> (field, value)
    fields: frozenset[str]

    def known(self, article_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """The distinct ids among these that name a stored article, ascending."""
        ids = np.unique(np.asarray(article_ids, dtype=np.int64))
        ids = ids[(ids > 0) & (ids < len(self.present))]
        return ids[self.present[ids]]

    def facets(self, article_ids: Sequence[int] | np.ndarray) -> Counts:
        """Articles per (source, UTC publication day): `reads.sources_and_dates` counted, or a facet statement."""
        ids = self.known(article_ids)
        if not len(ids):
            return {}
        published = self.published[ids]
        dated = published != UNDATED
        day = np.where(dated, published // DAY_US, 0)
        low = int(day[dated].min()) if dated.any() else 0
        slot = np.where(dated, day - low + 1, 0)  # 0: undated
        span = int(slot.max()) + 1
        keys, counts = np.unique((self.source[ids].astype(np.int64) + 1) * span + slot, return_counts=True)
        out: Counts = {}
        for key, n in zip(keys.tolist(), counts.tolist(), strict=True):
            code, d = divmod(key, span)
            source = self.sources[code - 1] if code else None
            out[(source, date.fromordinal(EPOCH_DAY + low + d - 1) if d else None)] = n
        return out

    def label_counts(self, fields: Sequence[str], article_ids: Sequence[int] | np.ndarray) -> LabelCounts:
        """Articles per label value of each of `fields` (all of them among `self.fields`) over these articles."""
        out: LabelCounts = {f: {} for f in fields}
        ids = self.known(article_ids)
        if not len(ids) or not len(self.label_code):
            return out
        # The label rows are sorted by article: each article's rows are found by bisection (the work grows with
        # the result set and its labels, not with the archive's labels).
        starts = np.searchsorted(self.label_article, ids, side="left")
        lengths = np.searchsorted(self.label_article, ids, side="right") - starts
        rows = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
        counts = np.bincount(self.label_code[rows], minlength=len(self.labels))
        for code in np.flatnonzero(counts).tolist():
            field, value = self.labels[code]
            if field in out:
                out[field][value] = int(counts[code])
        return out

    def stories(self, article_ids: Sequence[int]) -> dict[int, int]:
        """article id -> story id, for those of these articles that have near copies (`duplicates.story_ids`)."""
        ids = self.known(article_ids)
        story = self.story[ids]
        grouped = story != 0
        return dict(zip(ids[grouped].tolist(), story[grouped].tolist(), strict=True))

    def threads(self, article_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """article id -> (its thread id, the thread's size), for those of these articles that are threaded
        (`threads.thread_sizes`)."""
        ids = self.known(article_ids)
        thread = self.thread[ids]
        ids, thread = ids[thread != 0], thread[thread != 0]
        sizes = self.thread_size[thread]
        return {i: (t, n) for i, t, n in zip(ids.tolist(), thread.tolist(), sizes.tolist(), strict=True)}

    def dates(self, article_ids: Sequence[int]) -> dict[int, datetime | None]:
        """article id -> published_at (naive UTC), for these articles."""
        ids = self.known(article_ids)
        return {
            i: None if us == UNDATED else EPOCH + timedelta(microseconds=us)
            for i, us in zip(ids.tolist(), self.published[ids].tolist(), strict=True)
        }

    def contested(self, article_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """The ids among these whose story has another version among them (what folding has to order)."""
        ids = self.known(article_ids)
        story = self.story[ids]
        ids, story = ids[story != 0], story[story != 0]
        if not len(ids):
            return ids
        values, counts = np.unique(story, return_counts=True)
        return ids[np.isin(story, values[counts > 1])]

    def copies(self, contested: np.ndarray, sort: str, scores: dict[int, float] | None = None) -> list[int]:
        """The later versions of each story among `contested` in `sort` order (`filters.story_copies`):
        by relevance (`scores`, a missing one -1; ties by id), else by date (undated last; ties by id)."""
        if not len(contested):
            return []
        ids = np.asarray(contested, dtype=np.int64)
        if sort == "relevance":
            got = scores or {}
            key = np.array([-got.get(i, -1.0) for i in ids.tolist()], dtype=np.float64)
            order = np.lexsort((ids, key))
        else:
            published = self.published[ids]
            undated = published == UNDATED
            if sort == "oldest":
                order = np.lexsort((ids, published, undated))
            else:
                order = np.lexsort((-ids, -np.where(undated, 0, published), undated))
        story = self.story[ids][order]
        first = np.zeros(len(order), dtype=bool)
        first[np.unique(story, return_index=True)[1]] = True  # each story's first version in the order
        return sorted(ids[order][~first].tolist())


class DocValues:
    """The current `Snapshot` of one archive, refreshed when its mark moves."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._watch = CommitWatch(engine)
        self._generation = 0  # counts the looks that found a commit (or loaded): what a reader may key on

    def current(self, fields: Sequence[str]) -> Snapshot:
        """The doc values as the archive now is, with the labels of `fields`."""
        return self.state(fields)[0]

    def state(self, fields: Sequence[str]) -> tuple[Snapshot, int]:
        """`current`, and a generation: the same number only while nothing was committed since (an equal
        mark does not say that: an update that leaves an article without chunks keeps the mark)."""
        with self._lock:
            snap = self._snapshot
            wanted = frozenset(fields)
            if snap is not None and wanted <= snap.fields and not self._watch.moved():
                return snap, self._generation
            self._generation += 1
            with self._engine.connect() as conn:
                mark = read_mark(conn)
                if snap is None or not wanted <= snap.fields:
                    snap = _load(conn, mark, wanted | (snap.fields if snap is not None else frozenset()))
                elif mark != snap.mark:
                    snap = _refresh(conn, snap, mark)
            self._snapshot = snap
            return snap, self._generation

    def close(self) -> None:
        """Let go of the connection held to watch for commits."""
        with self._lock:
            self._watch.close()


def _these(column: Any, above: int, changed: Sequence[int]) -> Any:
    """`column` names an article above id `above` or one of `changed`."""
    return or_(column > above, column.in_(list(changed))) if changed else column > above


def _cards(conn: Connection, where: Any) -> tuple[np.ndarray, list[str | None], np.ndarray]:
    """(ids, sources, publication times in microseconds): the times read as text (ISO, naive UTC, as both backends
    write it) and parsed by NumPy, NULL -> NaT, which is UNDATED (1M articles: ~1 s less than a datetime per row)."""
    stamp = cast(CARDS.c.published_at, String)
    rows = conn.execute(select(CARDS.c.id, CARDS.c.source, stamp).where(where)).all()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    published = np.array([r[2] for r in rows], dtype="datetime64[us]").astype(np.int64).reshape(-1)
    return ids, [r[1] for r in rows], published


def _label_rows(conn: Connection, fields: frozenset[str], where: Any) -> list[tuple[str, str, np.ndarray]]:
    """(field, value, ids of the articles holding it) of `fields`' labels: one row per label value, its article ids
    joined into one string in SQL (`aggregate_strings`: group_concat, string_agg), not one row per article."""
    if not fields:
        return []
    labels = LabelRow.__table__.c
    joined = func.aggregate_strings(cast(labels.article_id, String), ",")
    stmt = select(labels.field, labels.value, joined).where(labels.field.in_(sorted(fields)), where)
    grouped = stmt.group_by(labels.field, labels.value)
    return [(f, v, np.array(ids.split(","), dtype=np.int64)) for f, v, ids in conn.execute(grouped)]


def _pairs(conn: Connection, table: Any, column: str, where: Any) -> np.ndarray:
    """(article id, `column`) rows of `table` as an n x 2 array, ids within 0 < id (callers bound them above)."""
    rows = np.asarray(conn.execute(select(table.c.article_id, table.c[column]).where(where)).all(), dtype=np.int64)
    return rows.reshape(-1, 2)


def _threads(conn: Connection, snap: Snapshot, mark: Mark, size: int, above: int, changed: Sequence[int]) -> np.ndarray:
    """The thread column at `mark`: the snapshot's, with the rows of articles threaded since (ids above its highest
    threaded article, and `changed`) read; the whole column again when the checksum then disagrees (a thread
    re-formed, a backfill)."""
    thread = np.zeros(size, dtype=np.int32)
    thread[: len(snap.thread)] = snap.thread[:size]
    if changed:
        thread[np.asarray(changed, dtype=np.int64)] = 0
    threaded = np.flatnonzero(thread)
    since = int(threaded[-1]) if len(threaded) else 0
    t = ThreadRow.__table__
    rows = _pairs(conn, t, "thread_id", _these(t.c.article_id, min(since, above), changed))
    rows = rows[(rows[:, 0] > 0) & (rows[:, 0] < size)]
    thread[rows[:, 0]] = rows[:, 1]
    threaded = np.flatnonzero(thread)
    v = thread[threaded].astype(np.int64)  # `read_mark`'s checksum, over the arrays
    if (len(v), int(v.sum()), int(((v % _MOD) * (threaded % _MOD)).sum())) != mark.threads:
        thread[:] = 0
        rows = _pairs(conn, t, "thread_id", t.c.article_id > 0)
        rows = rows[(rows[:, 0] > 0) & (rows[:, 0] < size)]
        thread[rows[:, 0]] = rows[:, 1]
    return thread


def _load(conn: Connection, mark: Mark, fields: frozenset[str]) -> Snapshot:
    """Every article's values, read from SQL."""
    empty = Snapshot(
        mark=Mark(0, 0, 0, (0, 0, 0), (0, 0, 0)),
        present=np.zeros(1, dtype=bool),
        source=np.full(1, NO_SOURCE, dtype=np.int32),
        sources=(),
        published=np.full(1, UNDATED, dtype=np.int64),
        story=np.zeros(1, dtype=np.int32),
        thread=np.zeros(1, dtype=np.int32),
        thread_size=np.zeros(1, dtype=np.int32),
        label_article=np.zeros(0, dtype=np.int32),
        label_code=np.zeros(0, dtype=np.int32),
        labels=(),
        fields=fields,
    )
    return _patch(conn, empty, mark, 0)


def _refresh(conn: Connection, snap: Snapshot, mark: Mark) -> Snapshot:
    """`snap` brought to `mark`: new and updated articles and the story column read again, or everything."""
    old = snap.mark
    if mark.max_article < old.max_article or mark.max_chunk < old.max_chunk:
        return _load(conn, mark, snap.fields)  # another database, or the archive rebuilt
    updated = select(ChunkRow.article_id).where(ChunkRow.id > old.max_chunk, ChunkRow.article_id <= old.max_article)
    changed = [int(i) for i in conn.scalars(updated.distinct())]
    new = int(conn.scalar(select(func.count()).select_from(ArticleRow).where(ArticleRow.id > old.max_article)) or 0)
    if mark.articles != old.articles + new or len(changed) > REREAD_LIMIT:  # deletions, or a mass update
        return _load(conn, mark, snap.fields)
    return _patch(conn, snap, mark, old.max_article, changed)


def _patch(conn: Connection, snap: Snapshot, mark: Mark, above: int, changed: Sequence[int] = ()) -> Snapshot:
    """`snap` with the articles above id `above` and the `changed` ones read again, and the story column whole."""
    ids, sources, published = _cards(conn, _these(CARDS.c.id, above, changed))
    size = max(len(snap.present), mark.max_article + 1, int(ids.max()) + 1 if len(ids) else 0)

    def grown(a: np.ndarray, fill: Any) -> np.ndarray:
        out = np.full(size, fill, dtype=a.dtype)
        out[: len(a)] = a
        return out

    present, source, stamp = grown(snap.present, False), grown(snap.source, NO_SOURCE), grown(snap.published, UNDATED)
    codes = {s: n for n, s in enumerate(snap.sources)}
    names = list(snap.sources)
    for s in dict.fromkeys(x for x in sources if x is not None):
        if s not in codes:
            codes[s] = len(names)
            names.append(s)
    present[ids] = True
    source[ids] = np.fromiter(
        (codes[s] if s is not None else NO_SOURCE for s in sources), dtype=np.int32, count=len(ids)
    )
    stamp[ids] = published
    story = np.zeros(size, dtype=np.int32)
    signatures = SignatureRow.__table__
    rows = _pairs(conn, signatures, "story_id", signatures.c.story_id.is_not(None))
    rows = rows[(rows[:, 0] > 0) & (rows[:, 0] < size)]
    story[rows[:, 0]] = rows[:, 1]
    thread = _threads(conn, snap, mark, size, above, changed)
    label_article, label_code, labels = snap.label_article, snap.label_code, list(snap.labels)
    if changed:
        keep = ~np.isin(label_article, np.asarray(changed, dtype=np.int32))
        label_article, label_code = label_article[keep], label_code[keep]
    label_codes = {lab: n for n, lab in enumerate(labels)}
    fresh = _label_rows(conn, snap.fields, _these(LabelRow.__table__.c.article_id, above, changed))
    for f, v, _ in fresh:
        if (f, v) not in label_codes:
            label_codes[(f, v)] = len(labels)
            labels.append((f, v))
    label_article = np.concatenate([label_article, *(a.astype(np.int32) for _, _, a in fresh)])
    label_code = np.concatenate(
        [label_code, *(np.full(len(a), label_codes[(f, v)], dtype=np.int32) for f, v, a in fresh)]
    )
    if len(label_article) and (np.diff(label_article) < 0).any():  # read grouped by label (or again after an update)
        order = np.argsort(label_article, kind="stable")
        label_article, label_code = label_article[order], label_code[order]
    return Snapshot(
        mark=mark,
        present=present,
        source=source,
        sources=tuple(names),
        published=stamp,
        story=story,
        thread=thread,
        thread_size=np.bincount(thread, minlength=1).astype(np.int32),
        label_article=label_article,
        label_code=label_code,
        labels=tuple(labels),
        fields=snap.fields,
    )
