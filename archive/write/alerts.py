"""Alerts: which newly embedded articles match which saved search, recorded as part of the write path.

Called once per embedded step of chunks (an ingest's pool, a POST's articles, a recovery step) with
the step's chunk ids and vectors, after they are in the vector index. The cost is one SQL statement
per saved search per step, never per article, plus four per step (the saved searches, the chunks'
articles, the alerts already known, the insert of what matched):

- keyword and hybrid saved searches: the saved query's keyword matching rules (any optional word,
  every required clause, no excluded one, the filters), as one statement restricted to the step's
  articles (`store.desk.matching_articles`; FTS5 reads only their id range's postings);
- semantic saved searches: the cosine of the query to each new passage, computed from the step's own
  vectors (a matrix product, no index search); an article whose best passage reaches
  `Settings.alert_similarity` matches; filters and Boolean clauses, when the query has any, cost
  that saved search's one statement.

Only articles stored after a search was saved can alert it (ids are never reused), so a reindex or
a recovery that re-embeds old articles raises nothing. A failure here is logged and never fails
the write: alerts are a view of what arrived, the articles are what must be kept.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
from sqlalchemy import ColumnElement, Connection

from archive.archive import Archive
from archive.errors import ArchiveError
from archive.query import Query, parse_query
from archive.query.nodes import Prefix, Term, all_of, any_of
from archive.search.terms import ranking_terms
from archive.store import desk
from archive.store.filters import article_filters

log = logging.getLogger(__name__)
Found = list[tuple[int, int, float | None]]  # (saved search id, article id, cosine or None)
PLANS_KEPT = 4096
# (dialect, saved search as stored) -> (its query, its keyword conditions): parsed and built once per process
_plans: dict[tuple, tuple[Query, list[ColumnElement[bool]]]] = {}


def _plan(archive: Archive, saved: desk.SavedSearch) -> tuple[Query, list[ColumnElement[bool]]]:
    key = (archive.engine.dialect.name, saved.id, *(getattr(saved, f) for f in desk.SAVED_FIELDS))
    plan = _plans.get(key)
    if plan is None:
        query = saved_query(saved)
        by_words = saved.mode != "semantic" or (query.is_empty and query.has_filters)  # filters alone: browsing
        plan = (query, keyword_conditions(archive, query) if by_words else [])
        if len(_plans) >= PLANS_KEPT:
            _plans.clear()
        _plans[key] = plan
    return plan


def saved_query(saved: desk.SavedSearch) -> Query:
    """The saved search's query with its explicit filters (they win over filters typed in q)."""
    query = parse_query(saved.q)
    changes = {k: getattr(saved, k) for k in ("source", "author", "after", "before") if getattr(saved, k)}
    return replace(query, **changes) if changes else query


def keyword_conditions(archive: Archive, query: Query) -> list[ColumnElement[bool]]:
    """The keyword matching rules of a query as SQL conditions on `articles` (None-free)."""
    terms = ranking_terms(query)
    optional = None
    if not terms.required:
        optional = any_of([Term(t) for t in terms.terms] + [Prefix(p) for p in terms.prefixes])
        if optional is None and not query.has_filters:
            return []  # nothing positive: matches nothing (the caller skips it)
        # filters alone (a browsing search): every new article passing them
    condition = archive.keyword.satisfying(all_of([optional, terms.boolean]), within=desk.AMONG)
    return [c for c in (condition, *article_filters(query)) if c is not None]


def record_alerts(archive: Archive, chunk_ids: np.ndarray, vectors: np.ndarray) -> int:
    """Evaluate every saved search against the articles of these new chunks; record and count the alerts."""
    if len(chunk_ids) == 0:
        return 0
    try:
        return _record(archive, chunk_ids, vectors)
    except Exception:
        log.exception("alert evaluation failed; the articles are stored, their alerts are not")
        return 0


def _record(archive: Archive, chunk_ids: np.ndarray, vectors: np.ndarray) -> int:
    with archive.engine.connect() as conn:
        saved = desk.saved_for_alerts(conn)
    if not saved:
        return 0
    owners = archive.chunk_owners.lookup(chunk_ids.tolist())
    article_ids = sorted(set(owners.values()))
    found: Found = []
    with archive.engine.connect() as conn:
        for s in saved:
            among = [a for a in article_ids if a > s.since_article_id]
            if not among:
                continue
            try:
                query, conditions = _plan(archive, s)
            except ArchiveError:
                continue  # a query this version no longer parses: nothing can match it
            if s.mode == "semantic" and not conditions:
                found += _semantic(archive, conn, s, query, among, chunk_ids, vectors, owners)
            elif conditions:
                found += [(s.id, a, None) for a in desk.matching_articles(conn, among, s.since_article_id, conditions)]
    if not found:
        return 0
    with archive.engine.begin() as conn:
        return desk.add_alerts(conn, found)


def _semantic(
    archive: Archive,
    conn: Connection,
    s: desk.SavedSearch,
    query: Query,
    among: list[int],
    chunk_ids: np.ndarray,
    vectors: np.ndarray,
    owners: dict[int, int],
) -> Found:
    """Articles whose best new passage is within `alert_similarity` of the query (and pass its filters)."""
    text = query.text_for_embedding.strip()
    if not text:
        return []
    query_vector = np.asarray(archive.encoder.encode_query(text), dtype=np.float32).reshape(-1)
    cosines = np.asarray(vectors, dtype=np.float32) @ query_vector
    best: dict[int, float] = {}
    allowed = set(among)
    for cid, cos in zip(chunk_ids.tolist(), cosines.tolist(), strict=True):
        a = owners.get(int(cid), 0)
        if a in allowed and cos >= archive.settings.alert_similarity and cos > best.get(a, -2.0):
            best[a] = cos
    if best and (query.boolean is not None or query.has_filters):
        restriction = archive.keyword.satisfying(query.boolean, within=desk.AMONG)
        conditions = [c for c in (restriction, *article_filters(query)) if c is not None]
        kept = set(desk.matching_articles(conn, sorted(best), s.since_article_id, conditions))
        best = {a: c for a, c in best.items() if a in kept}
    return [(s.id, a, round(c, 4)) for a, c in best.items()]
