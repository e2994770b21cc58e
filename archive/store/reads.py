"""Every query of the read path, as functions that take plain values and return plain values."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Connection, func, select, text
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from archive.documents import DISPLAY_FIELDS
from archive.limits import MAX_KEY_CHARS
from archive.query import Node, Query
from archive.store.cards import CARDS
from archive.store.filters import (
    Counts,
    LabelCounts,
    article_filters,
    date_order,
    facet_counts,
    publication_day,
    read_facets,
    sort_order,
    story_copies,
    story_ids,
)
from archive.store.keyword import KeywordIndex
from archive.store.models import ArticleRow, ChunkRow, LabelRow

IN_BATCH = 10_000  # ids per IN (...) list: far below SQLite's 32,766 bound parameters
LEAD_CHARS = 400
MAX_ID = 2**31 - 1  # ids are INTEGER columns: a larger number is no id (PostgreSQL would refuse to compare it)


def batches(ids: Iterable[int], size: int = IN_BATCH) -> Iterator[list[int]]:
    """Ids as lists of at most `size` ints (an IN list per statement)."""
    chunk: list[int] = []
    for i in ids:
        chunk.append(int(i))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def known_hashes(conn: Connection, hashes: Iterable[str]) -> set[str]:
    """The content hashes among `hashes` that a stored article has (ingest skips those articles)."""
    return set(holders_of_hashes(conn, hashes))


def holders_of_hashes(conn: Connection, hashes: Iterable[str]) -> dict[str, str]:
    """content hash -> the uid of the stored article with that text, for those of `hashes` that one has."""
    wanted = list(set(hashes))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), IN_BATCH):
        part = wanted[start : start + IN_BATCH]
        rows = conn.execute(select(ArticleRow.content_hash, ArticleRow.uid).where(ArticleRow.content_hash.in_(part)))
        found.update((digest, uid) for digest, uid in rows)
    return found


def find_article(session: Session, key: str | int) -> ArticleRow | None:
    """The one rule for article keys: an int is an id; a string is a uid first, else a numeric id."""
    if isinstance(key, int):
        return session.get(ArticleRow, key) if 0 < key <= MAX_ID else None
    key = str(key)
    if not key or len(key) > MAX_KEY_CHARS or "\x00" in key:  # no stored uid holds NUL (PostgreSQL text cannot)
        return None
    row = session.scalar(select(ArticleRow).where(ArticleRow.uid == key))
    if row is None and key.isascii() and key.isdigit() and len(key) < 19:
        row = find_article(session, int(key))
    return row


def chunk_bounds(session: Session, article_id: int) -> list[tuple[int, int, int]]:
    """(seq, char_start, char_end) of an article's chunks, in order."""
    rows = session.execute(
        select(ChunkRow.seq, ChunkRow.char_start, ChunkRow.char_end)
        .where(ChunkRow.article_id == article_id)
        .order_by(ChunkRow.seq)
    )
    return [(int(s), int(a), int(b)) for s, a, b in rows]


def article_chunk_ids(conn: Connection, article_id: int) -> list[int]:
    """Ids of one article's chunks."""
    return [int(c) for c in conn.scalars(select(ChunkRow.id).where(ChunkRow.article_id == article_id))]


def chunks_of_articles(conn: Connection, article_ids: Sequence[int]) -> list[tuple[int, int]]:
    """(chunk id, article id) of every chunk of these articles."""
    out: list[tuple[int, int]] = []
    for part in batches(article_ids):
        out += [
            (int(c), int(a))
            for c, a in conn.execute(select(ChunkRow.id, ChunkRow.article_id).where(ChunkRow.article_id.in_(part)))
        ]
    return out


def chunk_owner_rows(conn: Connection, chunk_ids: Sequence[int] | None = None) -> list[tuple[int, int]]:
    """(chunk id, article id) of the given chunks, or of every chunk when None."""
    if chunk_ids is None:
        return [(int(c), int(a)) for c, a in conn.execute(select(ChunkRow.id, ChunkRow.article_id))]
    return [
        (int(c), int(a))
        for part in batches(chunk_ids)
        for c, a in conn.execute(select(ChunkRow.id, ChunkRow.article_id).where(ChunkRow.id.in_(part)))
    ]


def chunk_owner_table(conn: Connection) -> np.ndarray:
    """Every chunk's article id as an int32 array indexed by chunk id (0 where there is no chunk)."""
    pairs = np.asarray(conn.execute(select(ChunkRow.id, ChunkRow.article_id)).all(), dtype=np.int64).reshape(-1, 2)
    table = np.zeros(int(pairs[:, 0].max()) + 1 if len(pairs) else 0, dtype=np.int32)
    table[pairs[:, 0]] = pairs[:, 1]
    return table


def chunk_owner_range(conn: Connection, above: int, upto: int) -> np.ndarray:
    """(chunk id, article id) rows of the chunks with ids in (above, upto], as an n x 2 array."""
    rows = conn.execute(select(ChunkRow.id, ChunkRow.article_id).where(ChunkRow.id > above, ChunkRow.id <= upto))
    return np.asarray(rows.all(), dtype=np.int64).reshape(-1, 2)


def chunk_ids_of(conn: Connection, article_ids: Sequence[int], upto: int) -> np.ndarray:
    """The ids, up to `upto`, of the chunks of these articles (by the (article, seq) index)."""
    stmt = select(ChunkRow.id).where(ChunkRow.id <= upto)
    found = [
        np.fromiter(conn.scalars(stmt.where(ChunkRow.article_id.in_(part))), np.int64) for part in batches(article_ids)
    ]
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def max_chunk_id(conn: Connection) -> int:
    """The highest chunk id (0 when there is none): one look at the primary key's end."""
    return int(conn.scalar(select(func.max(ChunkRow.id))) or 0)


def chunk_count(conn: Connection, above: int = 0) -> int:
    """How many chunks have an id above `above` (0: every chunk). On SQLite the whole count walks the
    smallest index's pages (1.6 M chunks: ~9 ms); above an id, a range of the primary key."""
    stmt = select(func.count()).select_from(ChunkRow)
    return int(conn.scalar(stmt.where(ChunkRow.id > above) if above else stmt) or 0)


def all_chunk_ids(conn: Connection) -> np.ndarray:
    """Every chunk id (int64), ascending (PostgreSQL's row order changes as rows are updated)."""
    return np.sort(np.fromiter(conn.scalars(select(ChunkRow.id)), dtype=np.int64))


def allowed_articles(keyword: KeywordIndex, query: Query) -> list[ColumnElement[bool]]:
    """Conditions on `articles` for the query's filters, required phrases and exclusions."""
    conditions: list[ColumnElement[bool]] = article_filters(query)
    restriction = keyword.restriction(query)
    if restriction is not None:
        conditions.append(restriction)
    return conditions


def allowed_article_ids(conn: Connection, keyword: KeywordIndex, query: Query) -> np.ndarray:
    """Ids of the articles passing the query's filters, required phrases and exclusions (one column, no join)."""
    return np.fromiter(conn.scalars(select(ArticleRow.id).where(*allowed_articles(keyword, query))), dtype=np.int64)


def allowed_chunk_ids(conn: Connection, keyword: KeywordIndex, query: Query, above: int = 0) -> np.ndarray:
    """Chunk ids of the articles passing the query's filters, required phrases and exclusions (only ids
    above `above`: the chunks stored since a filter's ids were last read)."""
    conditions = allowed_articles(keyword, query)
    if above:
        conditions.append(ChunkRow.id > above)
    stmt = select(ChunkRow.id).join(ArticleRow, ArticleRow.id == ChunkRow.article_id).where(*conditions)
    return np.fromiter(conn.scalars(stmt), dtype=np.int64)


def matched_words(
    conn: Connection, keyword: KeywordIndex, words: dict[str, Node], article_ids: Sequence[int]
) -> dict[int, set[str]]:
    """Which of `words` (label -> a query node, as the keyword index matches it: stemmed, in title or
    body) each of `article_ids` contains (`KeywordIndex.words_in`)."""
    if not article_ids or not words:
        return {}
    return keyword.words_in(conn, words, article_ids)


def label_counts(conn: Connection, fields: Sequence[str], article_ids: Sequence[int]) -> LabelCounts:
    """Articles per label value of each of `fields` over `article_ids` (a ranked candidate set; the facets of
    a match set come with its other counts: `KeywordIndex.facet_counts`, `browse_counts`)."""
    counts: LabelCounts = {f: {} for f in fields}
    if not fields:
        return counts
    # By primary key: only these articles' rows are read, and grouped in SQL. `field || ''` keeps the
    # (field, value) index from driving (without statistics SQLite would read every row of the fields).
    field = LabelRow.field.concat("")
    by_id = select(LabelRow.field, LabelRow.value, func.count()).group_by(LabelRow.field, LabelRow.value)
    for batch in batches(article_ids):
        for field_name, value, n in conn.execute(by_id.where(LabelRow.article_id.in_(batch), field.in_(list(fields)))):
            counts[field_name][value] = counts[field_name].get(value, 0) + int(n)
    return counts


def browse_page(conn: Connection, query: Query, *, oldest: bool, limit: int, offset: int) -> list[int]:
    """Ids of the filtered articles in date order (newest first unless `oldest`; undated last)."""
    stmt = (
        select(ArticleRow.id)
        .where(*article_filters(query))
        .order_by(*date_order(ArticleRow.published_at, ArticleRow.id, oldest=oldest))
        .limit(limit)
        .offset(offset)
    )
    return [int(i) for i in conn.scalars(stmt)]


def browse_ids(conn: Connection, query: Query) -> list[int]:
    """Ids of the filtered articles (what `browse_counts` counts), in no particular order."""
    return [int(i) for i in conn.scalars(select(ArticleRow.id).where(*article_filters(query)))]


def browse_copies(conn: Connection, query: Query, *, oldest: bool = False) -> list[int]:
    """The filtered articles that are a later version of their story in the browsing order (newest first unless
    `oldest`): `filters.story_copies` over the filtered articles that have near copies."""
    grouped = story_ids()
    grouped_matches = (
        select(ArticleRow.id.label("id"), grouped.c.story_id.label("story"), ArticleRow.published_at.label("published"))
        .join(grouped, grouped.c.article_id == ArticleRow.id)
        .where(*article_filters(query))
    )
    order = sort_order("oldest" if oldest else "newest")
    return [int(r[0]) for r in conn.execute(story_copies(grouped_matches, order)).all()]


def browse_counts(
    conn: Connection,
    query: Query,
    *,
    stories: bool = False,
    oldest: bool = False,
    fields: Sequence[str] | None = None,
    copies: Sequence[int] | None = None,
) -> tuple[Counts, LabelCounts]:
    """Filtered articles per (source, UTC day of publication), or, given `fields`, per label value of each of
    them; with `stories`, each story once, under its first version in the browsing order (newest first
    unless `oldest`; `copies`: `browse_copies` already read)."""
    if stories and copies is None:
        copies = browse_copies(conn, query, oldest=oldest)
    conditions = article_filters(query)
    if stories and copies:
        conditions.append(ArticleRow.id.not_in(list(copies)))
    matched = select(ArticleRow.id.label("id"), ArticleRow.source.label("source"), publication_day().label("day"))
    return read_facets(conn.execute(facet_counts(matched.where(*conditions), fields)).all(), fields)


def sources_and_dates(conn: Connection, article_ids: Sequence[int]) -> list[tuple[int, str | None, datetime | None]]:
    """(id, source, published_at) of these articles."""
    out = []
    for part in batches(article_ids):
        out += [
            (int(i), s, p)
            for i, s, p in conn.execute(
                select(CARDS.c.id, CARDS.c.source, CARDS.c.published_at).where(CARDS.c.id.in_(part))
            )
        ]
    return out


# What a result or a related article shows of each article (documents.DISPLAY_FIELDS, as columns).
_DISPLAYED = tuple(getattr(ArticleRow, name) for name in (*DISPLAY_FIELDS, "published_at"))


def result_rows(conn: Connection, article_ids: Sequence[int]) -> dict[int, Row[Any]]:
    """The displayed fields of these articles (id, uid, title, source, author, url, published_at), by id."""
    stmt = select(*_DISPLAYED).where(ArticleRow.id.in_(list(article_ids)))
    return {int(r.id): r for r in conn.execute(stmt)}


def related_rows(conn: Connection, article_ids: Sequence[int]) -> dict[int, Row[Any]]:
    """Like `result_rows`, plus `lead`: the first LEAD_CHARS characters of the body."""
    lead = func.substr(ArticleRow.body, 1, LEAD_CHARS).label("lead")
    stmt = select(*_DISPLAYED, lead).where(ArticleRow.id.in_(list(article_ids)))
    return {int(r.id): r for r in conn.execute(stmt)}


def texts(conn: Connection, article_ids: Sequence[int]) -> list[str]:
    """Title and body of each of these articles (a few: spelling suggestions read what a word looks like)."""
    stmt = select(ArticleRow.title, ArticleRow.body).where(ArticleRow.id.in_(list(article_ids)))
    return [f"{r.title or ''}\n{r.body or ''}" for r in conn.execute(stmt)]


def passage_chunks(conn: Connection, article_ids: Sequence[int], chunk_ids: Sequence[int]) -> list[Row[Any]]:
    """Chunks (id, article_id, seq, text, char_start) of these articles plus these chunks, by article and seq."""
    columns = (ChunkRow.id, ChunkRow.article_id, ChunkRow.seq, ChunkRow.text, ChunkRow.char_start)
    rows: dict[int, Row[Any]] = {}
    if article_ids:
        rows.update((r.id, r) for r in conn.execute(select(*columns).where(ChunkRow.article_id.in_(list(article_ids)))))
    if chunk_ids:
        rows.update((r.id, r) for r in conn.execute(select(*columns).where(ChunkRow.id.in_(list(chunk_ids)))))
    return sorted(rows.values(), key=lambda r: (r.article_id, r.seq))


def counts(conn: Connection) -> tuple[int, int]:
    """(articles, chunks) stored."""
    articles = conn.scalar(select(func.count()).select_from(ArticleRow)) or 0
    chunks = conn.scalar(select(func.count()).select_from(ChunkRow)) or 0
    return int(articles), int(chunks)


def is_empty(conn: Connection) -> bool:
    """True when no article is stored."""
    return conn.scalar(select(ArticleRow.id).limit(1)) is None


def overview(conn: Connection, max_sources: int) -> dict[str, Any]:
    """Article count, first and last publication date, and the most frequent sources with their counts."""
    count = conn.scalar(select(func.count()).select_from(ArticleRow)) or 0
    first, last = conn.execute(select(func.min(ArticleRow.published_at), func.max(ArticleRow.published_at))).one()
    sources = conn.execute(
        select(ArticleRow.source, func.count())
        .where(ArticleRow.source.is_not(None))
        .group_by(ArticleRow.source)
        .order_by(func.count().desc(), ArticleRow.source)
        .limit(max_sources)
    ).all()
    return {
        "articles": int(count),
        "first": first,
        "last": last,
        "sources": [{"value": name, "count": int(n)} for name, n in sources],
    }


def table_rows(conn: Connection, table: str, after_id: int, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` rows of `articles` or `chunks` (the model's columns) with ids above `after_id`, by id."""
    model = {"articles": ArticleRow, "chunks": ChunkRow}[table].__table__
    stmt = select(model).where(model.c.id > after_id).order_by(model.c.id).limit(limit)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def next_ids(conn: Connection) -> tuple[int, int]:
    """The ids the next article and chunk would get at least: past every id ever given, deleted ones included."""
    out = []
    for table in ("articles", "chunks"):
        model = {"articles": ArticleRow, "chunks": ChunkRow}[table].__table__
        used = int(conn.scalar(select(func.max(model.c.id))) or 0)
        if conn.dialect.name == "sqlite":  # AUTOINCREMENT remembers the largest id ever used
            seq = conn.execute(text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": table}).scalar()
        elif conn.dialect.name == "postgresql":
            seq = conn.execute(  # the SERIAL column's sequence; NULL before its first id
                text("SELECT pg_sequence_last_value(pg_get_serial_sequence(:t, 'id')::regclass)"), {"t": table}
            ).scalar()
        else:
            seq = None
        out.append(max(used, int(seq or 0)) + 1)
    return out[0], out[1]
