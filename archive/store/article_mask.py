"""The articles a query's filters allow, as a boolean array by article id, from the doc values in memory.

What `filters.article_filters` and the Boolean constraint decide in SQL, decided here over a `Snapshot`
(`docvalues.py`) for what it holds: the source (the stored names that pass `article_filters`' own
comparison, asked of the database over the few distinct names, so case folding is the database's, as in
SQL), the dates (`filters.date_window` over the microseconds; undated articles pass no date condition,
as NULL passes no SQL comparison) and labels of the fields it has loaded (a label value compared as
stored, by `filters.stored_form`). A Boolean constraint (required or excluded words and phrases) is the
one column of ids the keyword index gives (`satisfying_ids`: on SQLite from the FTS5 index alone; the ids
that fail a constraint that only excludes, the few). A query with anything else (an author, labels of a
field not loaded) reads the ids of its articles from SQL instead: one column of `articles`, every filter
applied by the same SQL as `reads.allowed_chunk_ids`, no join to the chunks. `store.allowed` maps the
mask onto chunk ids through the owners table.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import Connection, Integer, String, literal, select, union_all

from archive.query import Query
from archive.store import reads
from archive.store.docvalues import UNDATED, Snapshot, micros
from archive.store.filters import article_filters, date_window, stored_form
from archive.store.keyword.base import KeywordIndex

NAMES_PER_STATEMENT = 200  # source names compared per statement (a UNION ALL; SQLite allows 500 terms)


def article_mask(conn: Connection, keyword: KeywordIndex, snap: Snapshot, query: Query) -> np.ndarray:
    """Bool by article id (the snapshot's size): the stored articles passing the query's filters and
    Boolean constraint."""
    if query.author or any(f not in snap.fields for f, _ in query.labels):
        return _from_sql(conn, keyword, snap, query)
    mask = snap.present.copy()
    satisfying = keyword.satisfying_ids(query.boolean)
    if satisfying is not None:
        stmt, passing = satisfying
        ids = np.fromiter(conn.scalars(stmt), dtype=np.int64)
        listed = np.zeros(len(mask), dtype=bool)
        listed[ids[ids < len(mask)]] = True
        mask &= listed if passing else ~listed
    if query.source:
        codes = matching_sources(conn, snap.sources, query.source)
        mask &= np.isin(snap.source, np.asarray(codes, dtype=np.int32))
    window = date_window(snap.published, query, micros)
    if window:
        mask &= snap.published != UNDATED
        for condition in window:
            mask &= condition
    for field, value in query.labels:
        mask &= _labelled(snap, field, stored_form(value) or "")
    return mask


def matching_sources(conn: Connection, names: tuple[str | None, ...], source: str) -> list[int]:
    """Positions in `names` of the names `article_filters` lets through for `source` (evaluated by the
    database over the names, not over the articles)."""
    only = Query(source=source)
    found: list[int] = []
    listed = [(n, name) for n, name in enumerate(names) if name is not None]
    for start in range(0, len(listed), NAMES_PER_STATEMENT):
        part = listed[start : start + NAMES_PER_STATEMENT]
        rows = union_all(
            *(select(literal(n, Integer).label("code"), literal(name, String).label("source")) for n, name in part)
        ).subquery("names")
        found += [int(c) for c in conn.scalars(select(rows.c.code).where(*article_filters(only, rows)))]
    return found


def _labelled(snap: Snapshot, field: str, value: str) -> np.ndarray:
    mask = np.zeros(len(snap.present), dtype=bool)
    try:
        code = snap.labels.index((field, value))
    except ValueError:
        return mask
    mask[snap.label_article[snap.label_code == code]] = True
    return mask


def _from_sql(conn: Connection, keyword: KeywordIndex, snap: Snapshot, query: Query) -> np.ndarray:
    """The mask from the ids SQL gives (articles newer than the snapshot left out: their chunks are newer too)."""
    ids = reads.allowed_article_ids(conn, keyword, query)
    mask = np.zeros(len(snap.present), dtype=bool)
    mask[ids[ids < len(mask)]] = True
    return mask & snap.present
