"""The chunks a filter allows, kept per filter as bitmaps, so a filtered semantic search does not read every
allowed chunk id from SQL on each query.

A chunk never changes article and a chunk id is never reused (AUTOINCREMENT; an updated article
gets new chunks), and every filter (source, author, dates, labels, the Boolean constraint's words
and phrases) is a property of the article's stored fields and text: so whether a chunk passes a
filter never changes while it lives. A filter's `Selection` is made once, and on later queries only
the chunks stored since are read (`chunks.id > high water`, a range of the primary key), after one
look at the highest chunk id. Deleted chunks keep their bit: they are in no index, so the bit never
selects anything. Writers are serialised, so ids become visible in order and nothing below the high
water can appear later.

The first use of a filter (every date range a journalist types is one) is made in memory when the
process holds doc values (`Settings.doc_values`): the allowed articles as a mask by article id
(`article_mask`: source, dates and labels from the doc values; an author or a Boolean constraint
reads the allowed article ids from SQL, one column, no join), then the chunks by `mask[owner]` over
the owners table (`owners.py`, shared and memory-mapped). The table may name chunks that are gone (an
update replaces an article's chunks; their entries stay), so `StoredChunks` checks it against SQL
(the number of stored chunks: a count of an index) and, when they disagree, reads every stored chunk
id once to learn which entries are gone; the checked table is then reused by every filter until
something is committed. The check needs a table with no hole (`ChunkOwners.whole`); one written by an
older version is looked at once (every stored id read; marked whole when it has no hole). The result is exactly the SQL join's (tests/
test_allowed_values.py compares them on both backends); without doc values the join is read, as before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
from sqlalchemy import Connection, Engine

from archive.query import Query
from archive.store import reads
from archive.store.article_mask import article_mask
from archive.store.docvalues import DocValues, Snapshot
from archive.store.keyword.base import KeywordIndex
from archive.store.owners import ChunkOwners
from archive.store.vectors.selection import Selection

FEW_ARTICLES = 2_000  # a filter allowing at most this many articles reads their chunks by article id


def filter_key(query: Query) -> tuple:
    """What decides the allowed chunks: the field filters and the Boolean constraint (words and phrases)."""
    return (query.source, query.author, query.after, query.before, query.labels, query.boolean)


class AllowedChunks:
    """An LRU cache of `Selection`s by filter (`capacity` of them; 0: read every query's ids from SQL)."""

    def __init__(
        self,
        engine: Engine,
        keyword: KeywordIndex,
        capacity: int,
        values: tuple[DocValues, ChunkOwners, tuple[str, ...]] | None = None,
    ) -> None:
        self._engine = engine
        self._keyword = keyword
        self._capacity = capacity
        self._entries: OrderedDict[tuple, tuple[int, Selection]] = OrderedDict()  # key -> (high water, selection)
        self._lock = threading.Lock()
        self._stored = StoredChunks(values[1]) if values is not None else None
        self._values = values  # (doc values, chunk owners, label fields): a first use from memory; None: SQL

    def _first(self, conn: Connection, query: Query, top: int) -> Selection:
        """The selection of every chunk up to `top`: from the doc values and the owners table when this
        process has them, else (or when they disagree with SQL) from SQL."""
        if self._values is None or self._stored is None:
            return Selection.of(reads.allowed_chunk_ids(conn, self._keyword, query), top)
        doc_values, _, fields = self._values
        snap, generation = doc_values.state(fields)
        articles = article_mask(conn, self._keyword, snap, query)
        high = max(min(top, snap.mark.max_chunk), 0)
        few = np.flatnonzero(articles)
        if len(few) <= FEW_ARTICLES and not self._stored.checked(generation, high):
            # Their chunks by article id: cheaper than checking the table against SQL for a narrow filter.
            # Up to `high` (an article the snapshot holds has no chunk above it that the filter judged).
            chunks = reads.chunk_ids_of(conn, few.tolist(), high)
        else:
            owners = self._stored.owners(conn, snap, generation, high)
            if owners is None:
                return Selection.of(reads.allowed_chunk_ids(conn, self._keyword, query), top)
            chunks = np.flatnonzero(articles[owners])
        newer = reads.allowed_chunk_ids(conn, self._keyword, query, above=high) if high < top else chunks[:0]
        bits = np.zeros(max(top, int(newer.max()) if len(newer) else 0) + 1, dtype=bool)
        bits[chunks] = True
        bits[newer] = True
        return Selection.of_bits(bits)

    def selection(self, query: Query) -> Selection | None:
        """The chunks passing the query's filters and Boolean constraint; None when it has neither (all pass)."""
        if not query.has_filters and query.boolean is None:
            return None
        key = filter_key(query)
        with self._engine.connect() as conn:
            top = reads.max_chunk_id(conn)
            if self._capacity == 0:
                return self._first(conn, query, top)
            with self._lock:
                known = self._entries.get(key)
            if known is None:
                high, chosen = top, self._first(conn, query, top)
            elif known[0] < top:
                added = reads.allowed_chunk_ids(conn, self._keyword, query, above=known[0])
                high, chosen = top, known[1].extended(added, top)
            else:
                return known[1]
        with self._lock:
            current = self._entries.get(key)
            if current is None or current[0] <= high:  # a slower thread never replaces a newer entry
                self._entries[key] = (high, chosen)
            self._entries.move_to_end(key)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        return chosen


class StoredChunks:
    """The owner of each stored chunk id from the shared owners table, checked against SQL: an entry whose
    chunk is gone (an updated article's old chunks; a deleted article's, when its id came back) is found
    and dropped, and a hole (a table written by an older version) filled."""

    def __init__(self, owners: ChunkOwners) -> None:
        self._owners = owners
        self._lock = threading.Lock()
        self._gone = np.zeros(0, dtype=np.int64)  # chunk ids found gone though the table names them
        self._holes = np.zeros((0, 2), dtype=np.int64)  # (chunk id, article id) the table lacks
        self._verified: tuple[int, int, np.ndarray] | None = None  # (generation, high, owners) last checked
        self._looked = -1  # the table's holes are known up to this chunk id (every stored id read)

    def checked(self, generation: int, high: int) -> bool:
        """True when `owners` has the answer for this generation and high chunk id (no look at SQL)."""
        verified = self._verified
        return verified is not None and verified[:2] == (generation, high)

    def owners(self, conn: Connection, snap: Snapshot, generation: int, high: int) -> np.ndarray | None:
        """Article id by chunk id 0..high, 0 where no chunk is stored or its article is not in `snap`; `high`
        at most the last chunk id the snapshot covers (the ones above are newer than it: read from SQL by the
        caller). The table's part is checked against SQL; the chunks past its end up to `high` are read (a
        range of the primary key). None when SQL disagrees even after a full look (a write meanwhile).
        Kept while the doc values' `generation` stays (nothing committed since): later filters reuse it."""
        table = self._owners.table()
        end = max(min(high, len(table) - 1), 0)
        with self._lock:
            gone, holes, verified, looked = self._gone, self._holes, self._verified, self._looked
        if verified is not None and verified[:2] == (generation, high):
            return verified[2]
        if not self._owners.whole and looked < end:  # a table from an older version: its holes found once
            gone, holes = self._look(conn, table, end)
        for attempt in range(2):
            owners = np.zeros(high + 1, dtype=np.int32)
            owners[: end + 1] = table[: end + 1]
            owners[gone[gone <= end]] = 0
            inside = holes[holes[:, 0] <= end]
            owners[inside[:, 0]] = inside[:, 1]
            if (owners >= len(snap.present)).any():
                return None
            past = reads.chunk_owner_range(conn, end, high)
            past = past[past[:, 1] < len(snap.present)]
            # An article with a chunk past the table's end was written since the table: an update replaced
            # every chunk it had (ids only grow), so its entries in the table are gone.
            renewed = np.zeros(len(snap.present), dtype=bool)
            renewed[past[:, 1]] = True
            head = owners[: end + 1]
            head[renewed[head]] = 0
            owners[past[:, 0]] = past[:, 1]
            owners[~snap.present[owners]] = 0
            # Every chunk stored is in the table (or its known holes) or past it, so the ids listed are a
            # superset of the stored ones: as many, they are the same.
            if np.count_nonzero(owners) == reads.chunk_count(conn) - reads.chunk_count(conn, above=high):
                with self._lock:
                    self._verified = (generation, high, owners)
                return owners
            if attempt:
                return None
            gone, holes = self._look(conn, table, end)
        return None

    def _look(self, conn: Connection, table: np.ndarray, high: int) -> tuple[np.ndarray, np.ndarray]:
        """Every stored chunk id read: the table's entries with no chunk, and the chunks it lacks."""
        stored = reads.all_chunk_ids(conn)
        stored = stored[stored <= high]
        exists = np.zeros(high + 1, dtype=bool)
        exists[stored] = True
        entries = np.asarray(table[: high + 1]) != 0
        gone = np.flatnonzero(entries & ~exists)
        missing = np.flatnonzero(exists & ~entries)
        holes = np.asarray(reads.chunk_owner_rows(conn, missing.tolist()), dtype=np.int64).reshape(-1, 2)
        if not len(holes) and high == len(table) - 1:
            self._owners.mark_whole(table)
        with self._lock:
            self._gone = np.union1d(self._gone, gone)
            self._looked = max(self._looked, high)
            known = self._holes[~np.isin(self._holes[:, 0], holes[:, 0])]
            self._holes = np.concatenate([known, holes])
            return self._gone, self._holes
