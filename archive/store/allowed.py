"""The chunks a filter allows, kept per filter as bitmaps, so a filtered semantic search does not read every
allowed chunk id from SQL on each query.

A chunk never changes article and a chunk id is never reused (AUTOINCREMENT; an updated article
gets new chunks), and every filter (source, author, dates, labels, the Boolean constraint's words
and phrases) is a property of the article's stored fields and text: so whether a chunk passes a
filter never changes while it lives. A filter's `Selection` is read once (one statement), and on
later queries only the chunks stored since are read (`chunks.id > high water`, a range of the
primary key), after one look at the highest chunk id. Deleted chunks keep their bit: they are in
no index, so the bit never selects anything. Writers are serialised, so ids become visible in
order and nothing below the high water can appear later.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy import Engine

from archive.query import Query
from archive.store import reads
from archive.store.keyword.base import KeywordIndex
from archive.store.vectors.selection import Selection


def filter_key(query: Query) -> tuple:
    """What decides the allowed chunks: the field filters and the Boolean constraint (words and phrases)."""
    return (query.source, query.author, query.after, query.before, query.labels, query.boolean)


class AllowedChunks:
    """An LRU cache of `Selection`s by filter (`capacity` of them; 0: read every query's ids from SQL)."""

    def __init__(self, engine: Engine, keyword: KeywordIndex, capacity: int) -> None:
        self._engine = engine
        self._keyword = keyword
        self._capacity = capacity
        self._entries: OrderedDict[tuple, tuple[int, Selection]] = OrderedDict()  # key -> (high water, selection)
        self._lock = threading.Lock()

    def selection(self, query: Query) -> Selection | None:
        """The chunks passing the query's filters and Boolean constraint; None when it has neither (all pass)."""
        if not query.has_filters and query.boolean is None:
            return None
        key = filter_key(query)
        with self._engine.connect() as conn:
            top = reads.max_chunk_id(conn)
            if self._capacity == 0:
                return Selection.of(reads.allowed_chunk_ids(conn, self._keyword, query), top)
            with self._lock:
                known = self._entries.get(key)
            if known is None:
                high, chosen = top, Selection.of(reads.allowed_chunk_ids(conn, self._keyword, query), top)
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
