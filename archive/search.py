"""The read path: keyword, semantic and hybrid search with filters, grouping, passages and related coverage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timezone
from typing import Any, Literal, Sequence

import numpy as np
from sqlalchemy import text

from archive.core import Archive, utc_aware
from archive.errors import BadQuery, NotFound
from archive.fusion import rrf
from archive.query import Query, parse_query, to_fts5
from archive.snippets import best_passage, highlight, highlight_spans, highlight_terms

Mode = Literal["keyword", "semantic", "hybrid"]
Sort = Literal["relevance", "newest", "oldest"]
MODES: tuple[str, ...] = ("keyword", "semantic", "hybrid")
SORTS: tuple[str, ...] = ("relevance", "newest", "oldest")
MAX_LIMIT = 100
PASSAGE_CHARS = 300


@dataclass(frozen=True)
class SearchRequest:
    """A search as asked: the query string plus mode, paging, sort and explicit filters."""

    q: str
    mode: str = "hybrid"
    limit: int = 10
    offset: int = 0
    sort: str = "relevance"
    source: str | None = None
    author: str | None = None
    after: date | None = None
    before: date | None = None

    def validated(self) -> "SearchRequest":
        """Check mode/sort/paging; limit is clamped to MAX_LIMIT."""
        if self.mode not in MODES:
            raise BadQuery(f"mode must be one of {', '.join(MODES)}", param="mode")
        if self.sort not in SORTS:
            raise BadQuery(f"sort must be one of {', '.join(SORTS)}", param="sort")
        if self.limit < 1:
            raise BadQuery("limit must be a positive integer", param="limit")
        if self.offset < 0:
            raise BadQuery("offset must be zero or a positive integer", param="offset")
        if len(self.q) > 10_000:
            raise BadQuery("q is longer than 10,000 characters", param="q")
        return SearchRequest(**{**asdict(self), "limit": min(self.limit, MAX_LIMIT)})


@dataclass
class SearchResult:
    """One article in a result page, with its best passage and why it matched."""

    id: int
    uid: str
    title: str
    source: str | None
    author: str | None
    url: str | None
    published_at: str | None
    score: float
    passage: str
    passage_html: str
    highlights: list[tuple[int, int]]
    chunk_id: int
    chunk_seq: int
    passage_start: int  # char offsets of the passage in the article body
    passage_end: int
    explain: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the API's result object)."""
        return asdict(self)


@dataclass
class SearchResponse:
    """A page of results plus totals and facets over the whole filtered candidate set."""

    query: str
    mode: str
    total: int
    limit: int
    offset: int
    sort: str
    results: list[SearchResult]
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    filters: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = asdict(self)
        d["results"] = [r.as_dict() for r in self.results]
        return d


@dataclass
class _Candidate:
    article_id: int
    chunk_id: int  # best chunk
    keyword_rank: int | None = None
    semantic_rank: int | None = None
    keyword_score: float | None = None
    semantic_score: float | None = None
    score: float = 0.0


def _merged_query(req: SearchRequest) -> Query:
    """Parse q; explicit request filters win over filters typed in q."""
    query = parse_query(req.q)
    changes = {k: v for k, v in {"source": req.source, "author": req.author,
                                 "after": req.after, "before": req.before}.items() if v not in (None, "")}
    if changes:
        from dataclasses import replace
        query = replace(query, **changes)
    if query.after and query.before and query.after >= query.before:
        raise BadQuery("after must be earlier than before", param="after")
    return query


def _filter_sql(query: Query) -> tuple[str, dict[str, Any]]:
    """SQL WHERE fragment over `a` (articles) for the query's field filters."""
    clauses, params = [], {}
    if query.source:
        clauses.append("lower(a.source) = lower(:f_source)")
        params["f_source"] = query.source
    if query.author:
        clauses.append("lower(a.author) LIKE lower(:f_author)")
        params["f_author"] = f"%{query.author}%"
    if query.after:
        clauses.append("a.published_at >= :f_after")
        params["f_after"] = datetime.combine(query.after, time.min)
    if query.before:
        clauses.append("a.published_at < :f_before")
        params["f_before"] = datetime.combine(query.before, time.min)
    return (" AND ".join(clauses) or "1=1"), params


class Searcher:
    """Runs searches against one `Archive`."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.settings = archive.settings

    # -- candidates -----------------------------------------------------------------------

    def keyword_chunks(self, query: Query, limit: int) -> list[tuple[int, int, float]]:
        """(chunk id, article id, bm25 score) best first, filters applied in SQL."""
        match = to_fts5(query)
        if match is None:
            return []
        where, params = _filter_sql(query)
        kw = self.archive.keyword
        sql = text(
            f"SELECT f.rowid, c.article_id, {kw.rank_expression()} AS score FROM {kw.table} f "
            "JOIN chunks c ON c.id = f.rowid JOIN articles a ON a.id = c.article_id "
            f"WHERE {kw.table} MATCH :match AND {where} ORDER BY score DESC LIMIT :limit"
        )
        with self.archive.engine.connect() as conn:
            return [(int(r[0]), int(r[1]), float(r[2])) for r in conn.execute(sql, {"match": match, "limit": limit, **params})]

    def allowed_chunk_ids(self, query: Query) -> np.ndarray | None:
        """Chunk ids passing the field filters and required phrases/exclusions, or None for all."""
        constrained = bool(query.phrases or query.excluded or query.excluded_phrases)
        if not query.has_filters and not constrained:
            return None
        where, params = _filter_sql(query)
        sql = f"SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id WHERE {where}"
        if constrained:
            # Quoted phrases and exclusions bind the semantic side too: a quote means "must contain".
            match = to_fts5(Query(phrases=query.phrases))
            if match:
                sql += f" AND c.id IN (SELECT rowid FROM {self.archive.keyword.table} WHERE {self.archive.keyword.table} MATCH :match)"
                params["match"] = match
            excl = to_fts5(Query(terms=tuple(query.excluded) + tuple(w for p in query.excluded_phrases for w in p)))
            if excl:
                sql += (" AND c.article_id NOT IN (SELECT c2.article_id FROM chunks c2 WHERE c2.id IN "
                        f"(SELECT rowid FROM {self.archive.keyword.table} WHERE {self.archive.keyword.table} MATCH :excl))")
                params["excl"] = excl
        with self.archive.engine.connect() as conn:
            return np.fromiter((r[0] for r in conn.execute(text(sql), params)), dtype=np.int64)

    def semantic_chunks(self, query: Query, limit: int) -> list[tuple[int, float]]:
        """(chunk id, cosine) best first, only among chunks passing the filters."""
        if not query.text_for_embedding.strip():
            return []
        allowed = self.allowed_chunk_ids(query)
        vector = self.archive.encoder.encode_query(query.text_for_embedding)
        return self.archive.vectors.search(vector, limit, allowed)

    # -- search ----------------------------------------------------------------------------

    def search(self, request: SearchRequest) -> SearchResponse:
        """Run a search request and return one page of grouped, highlighted results."""
        req = request.validated()
        query = _merged_query(req)
        candidates = self._candidates(query, req.mode)
        ranked = sorted(candidates.values(), key=lambda c: -c.score)
        facets, dates = self._facets_and_dates([c.article_id for c in ranked])
        if req.sort != "relevance":
            oldest = req.sort == "oldest"
            floor = datetime.min if oldest else datetime.max
            ranked.sort(key=lambda c: dates.get(c.article_id) or floor, reverse=not oldest)
        page = ranked[req.offset:req.offset + req.limit]
        results = self._hydrate(page, highlight_terms(query))
        return SearchResponse(query=req.q, mode=req.mode, total=len(ranked), limit=req.limit, offset=req.offset,
                              sort=req.sort, results=results, facets=facets,
                              filters={"source": query.source, "author": query.author,
                                       "after": query.after.isoformat() if query.after else None,
                                       "before": query.before.isoformat() if query.before else None})

    def _candidates(self, query: Query, mode: str) -> dict[int, _Candidate]:
        """Best chunk per article on each side, fused per article."""
        window = self.settings.candidates
        by_article: dict[int, _Candidate] = {}
        keyword_order: list[int] = []
        semantic_order: list[int] = []
        if mode in ("keyword", "hybrid"):
            for chunk_id, article_id, score in self.keyword_chunks(query, window):
                if article_id not in by_article:
                    by_article[article_id] = _Candidate(article_id, chunk_id)
                c = by_article[article_id]
                if c.keyword_rank is None:
                    keyword_order.append(article_id)
                    c.keyword_rank, c.keyword_score = len(keyword_order), score
        if mode in ("semantic", "hybrid"):
            semantic = self.semantic_chunks(query, window)
            owners = self._chunk_articles([cid for cid, _ in semantic])
            for chunk_id, score in semantic:
                article_id = owners.get(chunk_id)
                if article_id is None:
                    continue
                c = by_article.setdefault(article_id, _Candidate(article_id, chunk_id))
                if c.semantic_rank is None:
                    semantic_order.append(article_id)
                    c.semantic_rank, c.semantic_score = len(semantic_order), score
                    if c.keyword_rank is None:
                        c.chunk_id = chunk_id
        if mode == "keyword":
            for c in by_article.values():
                c.score = c.keyword_score or 0.0
        elif mode == "semantic":
            for c in by_article.values():
                c.score = c.semantic_score or 0.0
        else:
            fused = rrf({"keyword": keyword_order, "semantic": semantic_order}, k=self.settings.rrf_k,
                        weights={"keyword": self.settings.keyword_weight, "semantic": self.settings.semantic_weight})
            for article_id, score in fused:
                by_article[article_id].score = score
        return by_article

    def _chunk_articles(self, chunk_ids: Sequence[int]) -> dict[int, int]:
        if not chunk_ids:
            return {}
        with self.archive.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, article_id FROM chunks WHERE id IN (SELECT value FROM json_each(:ids))"),
                                {"ids": _json_ids(chunk_ids)})
            return {int(a): int(b) for a, b in rows}

    def _facets_and_dates(self, article_ids: list[int]) -> tuple[dict[str, list[dict[str, Any]]], dict[int, datetime | None]]:
        """Source and year counts over the candidate set, and each candidate's date (one query)."""
        if not article_ids:
            return {"source": [], "year": []}, {}
        with self.archive.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, source, published_at FROM articles WHERE id IN (SELECT value FROM json_each(:ids))"),
                                {"ids": _json_ids(article_ids)}).all()
        sources: dict[str, int] = {}
        years: dict[str, int] = {}
        dates: dict[int, datetime | None] = {}
        for aid, source, published in rows:
            published = _as_datetime(published)
            dates[int(aid)] = published
            if source:
                sources[source] = sources.get(source, 0) + 1
            if published:
                years[str(published.year)] = years.get(str(published.year), 0) + 1
        return ({"source": [{"value": k, "count": v} for k, v in sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))],
                 "year": [{"value": k, "count": v} for k, v in sorted(years.items())]}, dates)

    def _hydrate(self, page: list[_Candidate], terms: list[str]) -> list[SearchResult]:
        """Load the page's articles and best chunks in one query each, in rank order."""
        if not page:
            return []
        with self.archive.engine.connect() as conn:
            arts = {r.id: r for r in conn.execute(text(
                "SELECT id, uid, title, source, author, url, published_at FROM articles "
                "WHERE id IN (SELECT value FROM json_each(:ids))"), {"ids": _json_ids(c.article_id for c in page)})}
            chunks = {r.id: r for r in conn.execute(text(
                "SELECT id, seq, text, char_start FROM chunks WHERE id IN (SELECT value FROM json_each(:ids))"),
                {"ids": _json_ids(c.chunk_id for c in page)})}
        results = []
        for c in page:
            a, ch = arts.get(c.article_id), chunks.get(c.chunk_id)
            if a is None or ch is None:  # deleted between ranking and hydration
                continue
            start, end = best_passage(ch.text, terms, PASSAGE_CHARS)
            passage = ch.text[start:end]
            published = _as_datetime(a.published_at)
            results.append(SearchResult(
                id=a.id, uid=a.uid, title=a.title, source=a.source, author=a.author, url=a.url,
                published_at=utc_aware(published).isoformat() if published else None,
                score=round(c.score, 6), passage=passage, passage_html=highlight(passage, terms),
                highlights=highlight_spans(passage, terms), chunk_id=c.chunk_id, chunk_seq=ch.seq,
                passage_start=ch.char_start + start, passage_end=ch.char_start + end,
                explain={"keyword_rank": c.keyword_rank, "semantic_rank": c.semantic_rank,
                         "keyword_score": _round(c.keyword_score), "semantic_score": _round(c.semantic_score),
                         "fused_score": round(c.score, 6)},
            ))
        return results

    # -- related coverage ------------------------------------------------------------------

    def related(self, key: str | int, limit: int = 10) -> list[dict[str, Any]]:
        """Nearest other articles by mean chunk vector, without the article itself or its near-duplicates."""
        raise NotFound("related coverage is not implemented yet")


def _json_ids(ids) -> str:
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _as_datetime(value: Any) -> datetime | None:
    """SQLite returns stored datetimes as strings through text() queries."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
