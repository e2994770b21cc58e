"""The read path: keyword, semantic and hybrid search with filters, grouping, passages and related coverage.

Ranking unit is the article (docs/search.md has the measurements behind each choice):
keyword ranks articles by BM25 over title + whole body (`article_fts`); semantic ranks
articles by their best chunk's cosine (plus a small bonus for further matching chunks);
hybrid fuses the two article rankings. The chunk level then supplies the passage shown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time
from typing import Any, Literal

import numpy as np
from sqlalchemy import text

from archive.config import Settings
from archive.core import Archive, utc_aware
from archive.errors import BadQuery, NotFound
from archive.fusion import rrf, score_mix
from archive.query import Query, parse_query, to_fts5, word_parts
from archive.snippets import (
    best_passage,
    highlight,
    highlight_spans,
    highlight_terms,
    match_strength,
)
from archive.store.db import json_ids
from archive.vectors import VectorIndex

Mode = Literal["keyword", "semantic", "hybrid"]
Sort = Literal["relevance", "newest", "oldest"]
MODES: tuple[str, ...] = ("keyword", "semantic", "hybrid")
FUSIONS: tuple[str, ...] = ("zscore", "minmax", "rrf")
SORTS: tuple[str, ...] = ("relevance", "newest", "oldest")
MAX_LIMIT = 100
PASSAGE_CHARS = 300
RELATED_CHUNKS = 400  # nearest chunks examined for related coverage


@dataclass(frozen=True)
class Tuning:
    """The ranking knobs, read from Settings (chosen on SciFact train; see docs/search.md)."""

    candidates: int = 300
    fusion: str = "zscore"
    rrf_k: float = 60.0
    keyword_weight: float = 1.0
    semantic_weight: float = 1.0
    title_weight: float = 3.0
    chunk_bonus: float = 0.01
    duplicate_cosine: float = 0.97

    @classmethod
    def from_settings(cls, settings: Settings) -> Tuning:
        """Take every knob the Settings define; the dataclass defaults fill the rest."""
        names = {"candidates": "candidates", "fusion": "fusion", "rrf_k": "rrf_k",
                 "keyword_weight": "keyword_weight", "semantic_weight": "semantic_weight",
                 "title_weight": "title_weight", "chunk_bonus": "chunk_bonus",
                 "duplicate_cosine": "related_duplicate_cosine"}
        values = {mine: getattr(settings, theirs) for mine, theirs in names.items() if hasattr(settings, theirs)}
        tuning = cls(**values)
        if tuning.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {tuning.fusion!r}")
        return tuning


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

    def validated(self) -> SearchRequest:
        """Check mode/sort/paging; limit is clamped to MAX_LIMIT."""
        if self.mode not in MODES:
            raise BadQuery(f"mode must be one of {', '.join(MODES)}", param="mode")
        if self.sort not in SORTS:
            raise BadQuery(f"sort must be one of {', '.join(SORTS)}", param="sort")
        if self.limit < 1:
            raise BadQuery("limit must be a positive integer", param="limit")
        if self.offset < 0:
            raise BadQuery("offset must be zero or a positive integer", param="offset")
        if self.offset > 100_000:
            raise BadQuery("offset must be at most 100000", param="offset")
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
    keyword_rank: int | None = None
    semantic_rank: int | None = None
    keyword_score: float | None = None
    semantic_score: float | None = None
    semantic_chunk: int | None = None  # the chunk that made the semantic score
    score: float = 0.0


def _merged_query(req: SearchRequest) -> Query:
    """Parse q; explicit request filters win over filters typed in q."""
    query = parse_query(req.q)
    changes = {k: v for k, v in {"source": req.source, "author": req.author,
                                 "after": req.after, "before": req.before}.items() if v not in (None, "")}
    if changes:
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
        clauses.append("lower(a.author) LIKE lower(:f_author) ESCAPE '\\'")
        escaped = query.author.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params["f_author"] = f"%{escaped}%"
    if query.after:
        clauses.append("a.published_at >= :f_after")
        params["f_after"] = datetime.combine(query.after, time.min)
    if query.before:
        clauses.append("a.published_at < :f_before")
        params["f_before"] = datetime.combine(query.before, time.min)
    return (" AND ".join(clauses) or "1=1"), params


# Lucene's English stop set: left out of keyword matching when a query has other words
# (huge posting lists, ~0 BM25 weight, and they say nothing about which passage matters).
STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with"]
)


def ranking_terms(query: Query) -> Query:
    """The query with hyphenated and similar bare words split into their parts (``TNF-alpha`` -> tnf, alpha).

    query.py compiles a punctuated word to an FTS5 phrase, which makes "TNF-alpha"
    miss "TNF alpha" and "alpha-TNF"; as optional ranking words the parts do better
    (SciFact train nDCG@10 0.688 -> 0.701). Words with a one-letter part (U.S.,
    don't, IL-6) stay phrases: a lone letter would match almost everything.
    Stopwords are dropped when other words remain: BM25 gives them ~0 weight anyway
    (same nDCG), but they made nearly every article "match" and the query 2x slower.
    """
    terms: dict[str, str] = {}  # by normalised form: "melanoma" and "melanoma." are one word, counted once
    for term in query.terms:
        parts = word_parts(term)
        if len(parts) > 1 and all(len(p) > 1 for p in parts):
            terms.update((p, p) for p in parts if p not in terms)
        elif parts:
            terms.setdefault(" ".join(parts), term)
    content = tuple(t for key, t in terms.items() if key not in STOPWORDS)
    return replace(query, terms=content or tuple(terms.values()), text_for_embedding=query.text_for_embedding)


def semantic_article_scores(hits: Sequence[tuple[int, float]], owners: dict[int, int],
                            chunk_bonus: float, bonus_window: int | None = None) -> list[tuple[int, float, int]]:
    """Chunk hits -> (article id, score, best chunk id), best first; score = best cosine + bonus per extra matching chunk.

    The bonus is each further chunk's cosine times `chunk_bonus`, counted only among the
    first `bonus_window` hits: a story that is about the query in several paragraphs
    edges out a one-paragraph brief with a marginally closer sentence, and widening the
    search for a deep page cannot reorder the articles already ranked.
    """
    best: dict[int, tuple[float, int]] = {}
    extra: dict[int, float] = {}
    limit = len(hits) if bonus_window is None else bonus_window
    for position, (chunk_id, cosine) in enumerate(hits):  # best first
        article_id = owners.get(chunk_id)
        if article_id is None:
            continue
        if article_id not in best:
            best[article_id] = (cosine, chunk_id)
        elif chunk_bonus and position < limit:
            extra[article_id] = extra.get(article_id, 0.0) + max(cosine, 0.0)
    scored = [(aid, cos + chunk_bonus * extra.get(aid, 0.0), cid) for aid, (cos, cid) in best.items()]
    scored.sort(key=lambda t: -t[1])  # stable: ties keep FAISS order
    return scored


# Runs the second half of a search beside the first: the semantic side beside the keyword side
# (hybrid), the facet count beside the page query (keyword mode). One task per search in flight.
_SIDES = ThreadPoolExecutor(max_workers=8, thread_name_prefix="search-side")


class Searcher:
    """Runs searches against one `Archive`."""

    def __init__(self, archive: Archive, tuning: Tuning | None = None) -> None:
        self.archive = archive
        self.settings = archive.settings
        self.tuning = tuning or Tuning.from_settings(archive.settings)

    # -- candidates -----------------------------------------------------------------------

    def keyword_articles(self, query: Query, limit: int) -> list[tuple[int, float]]:
        """(article id, BM25 over title + body) best first; filters, phrases and exclusions applied in SQL."""
        match = to_fts5(ranking_terms(query))
        if match is None:
            return []
        where, params = _filter_sql(query)
        kw = self.archive.keyword
        sql = text(
            f"SELECT f.rowid, {kw.article_rank_expression(self.tuning.title_weight)} AS score "
            f"FROM {kw.article_table} f JOIN articles a ON a.id = f.rowid "
            f"WHERE {kw.article_table} MATCH :match AND {where} ORDER BY score DESC, f.rowid LIMIT :limit"
        )
        with self.archive.engine.connect() as conn:
            return [(int(r[0]), float(r[1])) for r in conn.execute(sql, {"match": match, "limit": limit, **params})]

    def allowed_chunk_ids(self, query: Query) -> np.ndarray | None:
        """Chunk ids of articles passing the filters, required phrases and exclusions; None for all."""
        constrained = bool(query.phrases or query.excluded or query.excluded_phrases)
        if not query.has_filters and not constrained:
            return None
        where, params = _filter_sql(query)
        sql = f"SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id WHERE {where}"
        if constrained:
            # A quote means "must contain" and a minus "must not", on the semantic side too,
            # judged on the whole article like the keyword side.
            t = self.archive.keyword.article_table
            if query.phrases:
                sql += f" AND a.id IN (SELECT rowid FROM {t} WHERE {t} MATCH :match)"
                params["match"] = to_fts5(Query(phrases=query.phrases))
            # Any excluded word or phrase rules the article out.
            atoms = [to_fts5(Query(terms=(w,))) for w in query.excluded]
            atoms += [to_fts5(Query(phrases=(p,))) for p in query.excluded_phrases]
            atoms = [a for a in atoms if a]
            if atoms:
                sql += f" AND a.id NOT IN (SELECT rowid FROM {t} WHERE {t} MATCH :excl)"
                params["excl"] = " OR ".join(atoms)
        with self.archive.engine.connect() as conn:
            return np.fromiter((r[0] for r in conn.execute(text(sql), params)), dtype=np.int64)

    def semantic_articles(self, query: Query, need: int) -> list[tuple[int, float, int]]:
        """(article id, score, best chunk id) best first, among articles passing the filters.

        The FAISS search is restricted to allowed chunks before ranking, and widened until
        it yields `need` distinct articles (or runs out), so a narrow filter fills its page.
        """
        if not query.text_for_embedding.strip():
            return []
        allowed = self.allowed_chunk_ids(query)
        if allowed is not None and len(allowed) == 0:
            return []
        vectors = self.archive.vectors
        vector = self.archive.encoder.encode_query(query.text_for_embedding)
        available = vectors.count if allowed is None else min(len(allowed), vectors.count)
        k = max(self.tuning.candidates, 2 * need)
        while True:
            hits = vectors.search(vector, k, allowed)
            owners = self.archive.chunk_owners.lookup([cid for cid, _ in hits])
            scored = semantic_article_scores(hits, owners, self.tuning.chunk_bonus, self.tuning.candidates)
            if len(scored) >= need or len(hits) < k or k >= available:
                return scored
            k *= 4

    # -- search ----------------------------------------------------------------------------

    def search(self, request: SearchRequest) -> SearchResponse:
        """Run a search request and return one page of grouped, highlighted results."""
        req = request.validated()
        query = _merged_query(req)
        need = req.offset + req.limit
        browse = query.is_empty and query.has_filters  # filters alone: list the filtered articles
        if browse or req.mode == "keyword":
            total, facets, page = self._match_set(query, req, keyword=not browse)
        else:
            candidates = self._candidates(query, req.mode, need)
            ranked = sorted(candidates.values(), key=lambda c: -c.score)  # stable: fusion order on ties
            facets, dates = self._facets_and_dates([c.article_id for c in ranked])
            if req.sort != "relevance":
                oldest = req.sort == "oldest"
                missing = datetime.max if oldest else datetime.min  # undated articles go last either way
                ranked.sort(key=lambda c: dates.get(c.article_id) or missing, reverse=not oldest)
            total, page = len(ranked), ranked[req.offset:need]
        results = self._hydrate(page, query, highlight_terms(query))
        return SearchResponse(query=req.q, mode=req.mode, total=total, limit=req.limit, offset=req.offset,
                              sort=req.sort, results=results, facets=facets,
                              filters={"source": query.source, "author": query.author,
                                       "after": query.after.isoformat() if query.after else None,
                                       "before": query.before.isoformat() if query.before else None})

    def _candidates(self, query: Query, mode: str, need: int) -> dict[int, _Candidate]:
        """Semantic or hybrid candidates, fused per article.

        Hybrid windows depend on the query only, never on the page asked for: score
        normalisation runs over the whole window, so a page-dependent window would let
        page 2 disagree with page 1; the pages end where the union of the windows ends
        (`total`). Semantic mode widens with the page instead; that only appends
        lower-scored articles (see semantic_article_scores), so its pages stay consistent.
        """
        t = self.tuning
        by_article: dict[int, _Candidate] = {}
        keyword: list[tuple[int, float]] = []
        if mode == "hybrid":
            # The two sides do not wait on each other: the query's encoding (torch or onnxruntime)
            # and the FTS5 query (SQLite) both release the GIL, so they overlap on two cores.
            semantic_side = _SIDES.submit(self.semantic_articles, query, 1)  # `candidates` chunks
            keyword = self.keyword_articles(query, t.candidates)
            for rank, (article_id, score) in enumerate(keyword, start=1):
                by_article[article_id] = _Candidate(article_id, keyword_rank=rank, keyword_score=score)
            semantic = semantic_side.result()
        else:
            semantic = self.semantic_articles(query, need)
        for rank, (article_id, score, chunk_id) in enumerate(semantic, start=1):
            c = by_article.setdefault(article_id, _Candidate(article_id))
            c.semantic_rank, c.semantic_score, c.semantic_chunk = rank, score, chunk_id
        if mode == "semantic":
            for c in by_article.values():
                c.score = c.semantic_score or 0.0
            return by_article
        weights = {"keyword": t.keyword_weight, "semantic": t.semantic_weight}
        if t.fusion in ("zscore", "minmax"):
            # Each side's scores standardised over its own candidate window, then a weighted sum;
            # an article only one side found gets the other side's lowest value.
            fused = score_mix({"keyword": {a: s for a, s in keyword}, "semantic": {a: s for a, s, _ in semantic}},
                              weights=weights, normalise=t.fusion)
        else:
            fused = rrf({"keyword": [a for a, _ in keyword], "semantic": [a for a, _, _ in semantic]},
                        k=t.rrf_k, weights=weights)
        ordered: dict[int, _Candidate] = {}
        for article_id, score in fused:  # fused order; a zero-weight side's own hits drop out
            c = by_article[article_id]
            c.score = score
            ordered[article_id] = c
        return ordered

    def _match_set(self, query: Query, req: SearchRequest, *, keyword: bool) -> tuple[int, dict[str, list[dict[str, Any]]], list[_Candidate]]:
        """Keyword mode and filter-only browsing: every matching article is the candidate set.

        Counted, faceted, sorted and paged in SQL (two statements), so totals are exact
        and a deep page or a date sort costs no more than the first page.
        """
        where, params = _filter_sql(query)
        kw = self.archive.keyword
        score = "0.0"
        source = f"articles a WHERE {where}"
        if keyword:
            match = to_fts5(ranking_terms(query))
            if match is None:
                return 0, _facets({}), []
            params["match"] = match
            score = kw.article_rank_expression(self.tuning.title_weight)
            source = f"{kw.article_table} f JOIN articles a ON a.id = f.rowid WHERE {kw.article_table} MATCH :match AND {where}"
        direction = "ASC" if req.sort == "oldest" else "DESC"
        if keyword and req.sort == "relevance":
            page_sql = (f"SELECT a.id, {score} AS score, NULL AS rnk FROM {source} "
                        "ORDER BY score DESC, a.id LIMIT :limit OFFSET :offset")
        elif keyword:
            # Date order over all matches; the relevance rank still goes into `explain`.
            page_sql = ("SELECT id, score, row_number() OVER (ORDER BY score DESC, id) AS rnk FROM "
                        f"(SELECT a.id AS id, a.published_at AS published, {score} AS score FROM {source}) "
                        f"ORDER BY published IS NULL, published {direction}, id {direction} LIMIT :limit OFFSET :offset")
        else:  # browsing: newest first unless asked for oldest; undated last either way
            page_sql = (f"SELECT a.id, 0.0 AS score, NULL AS rnk FROM {source} "
                        f"ORDER BY a.published_at IS NULL, a.published_at {direction}, a.id {direction} "
                        "LIMIT :limit OFFSET :offset")
        facet_sql = f"SELECT a.source, substr(a.published_at, 1, 4), count(*) FROM {source} GROUP BY 1, 2"

        def facet_counts() -> dict[tuple[str | None, str | None], int]:
            with self.archive.engine.connect() as conn:
                return {(src, year): int(n) for src, year, n in conn.execute(text(facet_sql), params)}

        counting = _SIDES.submit(facet_counts)  # its own connection, beside the page query (SQLite frees the GIL)
        with self.archive.engine.connect() as conn:
            rows = conn.execute(text(page_sql), {**params, "limit": req.limit, "offset": req.offset}).all()
        counts = counting.result()
        page = []
        for position, (article_id, value, rank) in enumerate(rows, start=req.offset + 1):
            c = _Candidate(int(article_id), score=float(value))
            if keyword:
                c.keyword_rank, c.keyword_score = int(rank) if rank is not None else position, float(value)
            page.append(c)
        return sum(counts.values()), _facets(counts), page

    def _facets_and_dates(self, article_ids: list[int]) -> tuple[dict[str, list[dict[str, Any]]], dict[int, datetime | None]]:
        """Source and year counts over the candidate set, and each candidate's date (one query)."""
        if not article_ids:
            return {"source": [], "year": []}, {}
        with self.archive.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, source, published_at FROM articles WHERE id IN (SELECT value FROM json_each(:ids))"),
                                {"ids": json_ids(article_ids)}).all()
        counts: dict[tuple[str | None, str | None], int] = {}
        dates: dict[int, datetime | None] = {}
        for aid, source, published in rows:
            published = _as_datetime(published)
            dates[int(aid)] = published
            key = (source, f"{published.year:04d}" if published else None)
            counts[key] = counts.get(key, 0) + 1
        return _facets(counts), dates

    def _passage_chunks(self, page: list[_Candidate], terms: list[str]) -> dict[int, Any]:
        """Each page article's passage chunk (a row: id, article_id, seq, text, char_start), in two small queries.

        An article the keyword side found shows the chunk holding the most distinct query words
        (then the most hits), i.e. the passage whose highlights explain the match; ties go to
        the semantic best chunk, then to the earlier chunk. An article only the semantic side
        found shows the chunk that carried the meaning. Without any visible match: the semantic
        chunk, else the first. Chosen in Python over the page's own chunks (a few dozen), which
        costs well under a millisecond; a chunk-level FTS5 query for this cost ~7 ms per page.
        """
        passage_terms = [t for t in terms if t not in STOPWORDS] or terms
        lexical = [c.article_id for c in page if c.keyword_rank is not None or c.semantic_chunk is None]
        semantic = [c.semantic_chunk for c in page if c.semantic_chunk is not None]
        columns = "SELECT id, article_id, seq, text, char_start FROM chunks"
        with self.archive.engine.connect() as conn:
            rows = conn.execute(text(f"{columns} WHERE article_id IN (SELECT value FROM json_each(:articles)) "
                                     f"UNION {columns} WHERE id IN (SELECT value FROM json_each(:chunks))"),
                                {"articles": json_ids(lexical), "chunks": json_ids(semantic)}).all()
        by_article: dict[int, list[Any]] = {}
        for row in sorted(rows, key=lambda r: (r.article_id, r.seq)):
            by_article.setdefault(row.article_id, []).append(row)
        chosen: dict[int, Any] = {}
        for c in page:
            chunks = by_article.get(c.article_id, [])
            if not chunks:
                continue  # deleted between ranking and hydration
            own = next((r for r in chunks if r.id == c.semantic_chunk), None)
            if c.keyword_rank is None and own is not None:
                chosen[c.article_id] = own
                continue
            strength = {r.id: match_strength(r.text, passage_terms) for r in chunks}
            best = max(chunks, key=lambda r: (strength[r.id], r.id == c.semantic_chunk, -r.seq))
            chosen[c.article_id] = best if strength[best.id] > (0, 0) else (own or chunks[0])
        return chosen

    def _hydrate(self, page: list[_Candidate], query: Query, terms: list[str]) -> list[SearchResult]:
        """Load the page's articles and passages in a few queries, in rank order."""
        if not page:
            return []
        chunk_of = self._passage_chunks(page, terms)
        with self.archive.engine.connect() as conn:
            arts = {r.id: r for r in conn.execute(text(
                "SELECT id, uid, title, source, author, url, published_at FROM articles "
                "WHERE id IN (SELECT value FROM json_each(:ids))"), {"ids": json_ids(c.article_id for c in page)})}
        results = []
        for c in page:
            a, ch = arts.get(c.article_id), chunk_of.get(c.article_id)
            if a is None or ch is None:  # deleted between ranking and hydration
                continue
            start, end = best_passage(ch.text, terms, PASSAGE_CHARS)
            passage = ch.text[start:end]
            published = _as_datetime(a.published_at)
            results.append(SearchResult(
                id=a.id, uid=a.uid, title=a.title, source=a.source, author=a.author, url=a.url,
                published_at=utc_aware(published).isoformat() if published else None,
                score=round(c.score, 6), passage=passage, passage_html=highlight(passage, terms),
                highlights=highlight_spans(passage, terms), chunk_id=ch.id, chunk_seq=ch.seq,
                passage_start=ch.char_start + start, passage_end=ch.char_start + end,
                explain={"keyword_rank": c.keyword_rank, "semantic_rank": c.semantic_rank,
                         "keyword_score": _round(c.keyword_score), "semantic_score": _round(c.semantic_score),
                         "fused_score": round(c.score, 6)},
            ))
        return results

    # -- related coverage ------------------------------------------------------------------

    def related(self, key: str | int, limit: int = 10) -> list[dict[str, Any]]:
        """Nearest other articles by mean chunk vector, without the article itself or its near-duplicates."""
        limit = max(1, min(int(limit), MAX_LIMIT))
        with self.archive.engine.connect() as conn:
            row = None
            if not isinstance(key, int):  # an int is an article id; a string is a uid first (uids may be digits)
                row = conn.execute(text("SELECT id, content_hash FROM articles WHERE uid = :key"), {"key": key}).first()
            if row is None and str(key).strip().isdigit():
                row = conn.execute(text("SELECT id, content_hash FROM articles WHERE id = :id"),
                                   {"id": int(str(key).strip())}).first()
            if row is None:
                raise NotFound(f"no article with id or uid {key!r}")
            article_id = int(row.id)
            own = [int(r[0]) for r in conn.execute(text("SELECT id FROM chunks WHERE article_id = :id"), {"id": article_id})]
        vectors = self.archive.vectors
        mine = _stored_vectors(vectors, own)
        if mine is None:
            return []  # no vectors yet (e.g. still being embedded): nothing to compare with
        target = _unit(mine.mean(axis=0))
        hits = vectors.search(target, RELATED_CHUNKS + len(own))
        owners = self.archive.chunk_owners.lookup([cid for cid, _ in hits])
        others = list(dict.fromkeys(owners[cid] for cid, _ in hits if owners.get(cid, article_id) != article_id))
        if not others:
            return []
        with self.archive.engine.connect() as conn:
            chunk_rows = conn.execute(text("SELECT id, article_id FROM chunks WHERE article_id IN "
                                           "(SELECT value FROM json_each(:ids))"), {"ids": json_ids(others)}).all()
        by_article: dict[int, list[int]] = {}
        for cid, aid in chunk_rows:
            by_article.setdefault(int(aid), []).append(int(cid))
        # Rank by article-vector cosine (mean of chunk vectors), the same measure as the duplicate test.
        scored = []
        for aid in others:
            theirs = _stored_vectors(vectors, by_article.get(aid, []))
            if theirs is None:
                continue
            cosine = float(_unit(theirs.mean(axis=0)) @ target)
            if cosine < self.tuning.duplicate_cosine:  # near-duplicates (re-sent or corrected copies) are not "related"
                scored.append((aid, cosine))
        scored.sort(key=lambda t: -t[1])
        scored = scored[:limit]
        return self._related_dicts(scored)

    def _related_dicts(self, scored: list[tuple[int, float]]) -> list[dict[str, Any]]:
        """Hydrate related articles in one query, in score order."""
        if not scored:
            return []
        with self.archive.engine.connect() as conn:
            rows = {r.id: r for r in conn.execute(text(
                "SELECT id, uid, title, source, author, url, published_at, substr(body, 1, 400) AS lead "
                "FROM articles WHERE id IN (SELECT value FROM json_each(:ids))"), {"ids": json_ids(a for a, _ in scored)})}
        out = []
        for aid, cosine in scored:
            r = rows.get(aid)
            if r is None:
                continue
            published = _as_datetime(r.published_at)
            lead = " ".join(r.lead.split())
            out.append({"id": r.id, "uid": r.uid, "title": r.title, "source": r.source, "author": r.author,
                        "url": r.url, "published_at": utc_aware(published).isoformat() if published else None,
                        "score": round(cosine, 6), "snippet": lead[:240]})
        return out


def _facets(counts: dict[tuple[str | None, str | None], int]) -> dict[str, list[dict[str, Any]]]:
    """(source, year) -> count pairs as the response's facets: sources by count, years in order."""
    sources: dict[str, int] = {}
    years: dict[str, int] = {}
    for (source, year), n in counts.items():
        if source:
            sources[source] = sources.get(source, 0) + n
        if year:
            years[year] = years.get(year, 0) + n
    return {"source": [{"value": k, "count": v} for k, v in sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))],
            "year": [{"value": k, "count": v} for k, v in sorted(years.items())]}


def _stored_vectors(vectors: VectorIndex, chunk_ids: list[int]) -> np.ndarray | None:
    """The vectors of those chunks that have one (a chunk may still await embedding); None if none do."""
    try:
        return vectors.vectors(chunk_ids) if chunk_ids else None
    except RuntimeError:  # FAISS: an id not in the index
        found = []
        for cid in chunk_ids:
            try:
                found.append(vectors.vectors([cid])[0])
            except RuntimeError:
                continue
        return np.stack(found) if found else None


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm > 0 and math.isfinite(norm) else vector).astype(np.float32)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _as_datetime(value: Any) -> datetime | None:
    """SQLite returns stored datetimes as strings through text() queries."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
