"""The `Searcher` facade: one request -> one page, in keyword, semantic or hybrid mode.

Ranking unit is the article (docs/search.md has the measurements behind each choice):
keyword ranks articles by BM25 over title + whole body; semantic ranks articles by their
best chunk's cosine (plus a small bonus for further matching chunks); hybrid fuses the
two article rankings. The chunk level then supplies the passage shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime

from archive.archive import Archive
from archive.config import Settings
from archive.fusion import rrf, score_mix
from archive.limits import DEFAULT_LIMIT, FUSIONS, MAX_FACET_VALUES
from archive.query import Query
from archive.search import collapse, matchset
from archive.search.candidates import fusion_weights, keyword_articles, semantic_articles
from archive.search.justify import explain_words, fill_cosines, justified, required_words
from archive.search.passages import article_rows, hydrate
from archive.search.related import related
from archive.search.request import SearchRequest
from archive.search.rerank import rerank
from archive.search.results import Candidate, RelatedArticle, SearchResponse, SearchResult, facets
from archive.search.spelling import Speller
from archive.search.terms import ranking_terms
from archive.snippets import highlight_terms
from archive.store import reads
from archive.store.docvalues import Snapshot
from archive.store.filters import Counts, LabelCounts

EXPORT_BATCH = 100  # results hydrated at a time while an export streams
SIDE_THREADS = 8  # concurrent second halves of searches in flight (see Searcher._pool)


class Searcher:
    """Runs searches against one `Archive` (settings: the archive's own unless given)."""

    def __init__(self, archive: Archive, settings: Settings | None = None) -> None:
        self.archive = archive
        self.settings = settings or archive.settings
        if self.settings.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {self.settings.fusion!r}")
        self._pool: ThreadPoolExecutor | None = None
        self.speller = Speller(archive, self.settings)

    @property
    def pool(self) -> ThreadPoolExecutor:
        """Runs the second half of a search beside the first: the semantic side beside the keyword side
        (hybrid), the facet count beside the page query (keyword mode). Both release the GIL (the
        model, SQLite), so on two cores a search costs about its slower half."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=SIDE_THREADS, thread_name_prefix="search-side")
        return self._pool

    def close(self) -> None:
        """Stop the side threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def related(self, key: str | int, limit: int = 10) -> list[RelatedArticle]:
        """Related coverage of one article (by uid or id)."""
        return related(self.archive, key, limit)

    def search(self, request: SearchRequest) -> SearchResponse:
        """Run a search request and return one page of grouped, highlighted results."""
        req = request.validated()
        query = req.query(self.settings.labels)
        spelled = self.pool.submit(self.speller.suggest, query, req.q)  # "did you mean", beside the whole search
        values = self._values()
        total, relation, facet_counts, labels, page, scope, stories = self._stories(
            query, req, req.offset, req.limit, req.offset + req.limit, values
        )
        # A match set's label counts come with its other counts; a ranked set's are counted over its ids.
        labelled = None
        if labels is None and values is not None:
            labels = values.label_counts(list(self.settings.labels.values()), scope or [])
        elif labels is None:
            labelled = self.pool.submit(self._label_counts, scope or [])
        # The page's matched words, its versions and threads and its articles' fields are read beside its passages.
        explained = self.pool.submit(explain_words, self.archive, query, page)
        extras = self.pool.submit(collapse.extras, self.archive, [c.article_id for c in page], stories, values)
        articles = self.pool.submit(article_rows, self.archive, page)
        results = hydrate(
            self.archive,
            page,
            highlight_terms(query),
            required_words(query),
            self.settings,
            explained=explained,
            articles=articles,
        )
        collapse.attach(self.archive, results, stories, extras.result())
        facet_lists, date_bucket = facets(facet_counts)
        facet_lists.update(self._label_lists(labelled.result() if labelled is not None else labels or {}))
        return SearchResponse(
            query=req.q,
            mode=req.mode,
            total=total,
            total_relation=relation,
            limit=req.limit,
            offset=req.offset,
            sort=req.sort,
            collapse=req.collapse,
            results=results,
            facets=facet_lists,
            date_bucket=date_bucket,
            did_you_mean=spelled.result(),
            filters={
                "source": query.source,
                "author": query.author,
                "after": query.after.isoformat() if query.after else None,
                "before": query.before.isoformat() if query.before else None,
                **{name: dict(query.labels).get(field) for name, field in self.settings.labels.items()},
            },
        )

    def export(
        self, request: SearchRequest, max_results: int, batch: int = EXPORT_BATCH
    ) -> tuple[int, Iterator[SearchResult]]:
        """(total, results) for a whole result set: `total` as a search reports it, and the first
        `max_results` results in the request's order, hydrated `batch` at a time as they are read.

        The ranking runs once, before the first result (so a bad request fails before anything is
        sent); then each batch costs what a result page costs. The set is the one a first page
        counts in `total`: every match in keyword mode and when browsing, the fused candidate
        windows in hybrid mode, the articles of the nearest `candidates` chunks in semantic mode.
        """
        req = request.validated()
        query = req.query(self.settings.labels)
        total, _, _, _, ranked, _, stories = self._stories(
            query, req, 0, max(0, max_results), DEFAULT_LIMIT, self._values()
        )
        terms, required = highlight_terms(query), required_words(query)

        def results() -> Iterator[SearchResult]:
            for start in range(0, len(ranked), batch):
                chosen = ranked[start : start + batch]
                explain_words(self.archive, query, chosen)
                part = hydrate(self.archive, chosen, terms, required, self.settings)
                collapse.attach(self.archive, part, stories)
                yield from part

        return total, results()

    def _values(self) -> Snapshot | None:
        """The archive's doc values as they now are (None when `Settings.doc_values` is off: SQL counts)."""
        if not self.settings.doc_values:
            return None
        return self.archive.doc_values.current(list(self.settings.labels.values()))

    def _stories(
        self, query: Query, req: SearchRequest, offset: int, limit: int, need: int, values: Snapshot | None = None
    ) -> tuple[int, str, Counts, LabelCounts | None, list[Candidate], list[int] | None, dict[int, int]]:
        """`_ranked` with one result per story (search/collapse.py) unless the request turns it off; the last
        item maps each listed representative to its story."""
        if not req.collapse:
            return (*self._ranked(query, req, offset, limit, need, values), {})
        browse = query.is_empty and query.has_filters
        if browse or req.mode == "keyword":  # stories counted in SQL, the page folded from a bounded window
            total, facet_counts, labels, page, stories = matchset.match_set(
                *self._context, query, req, offset, limit, keyword=not browse, fold=True, values=values
            )
            return total, self._relation(query, browse), facet_counts, labels, page, None, stories
        total, relation, facet_counts, page, scope, stories = collapse.collapsed(
            self.archive,
            lambda o, n, w: _without_labels(self._ranked(query, req, o, n, w, values)),
            offset,
            limit,
            need,
            values,
        )
        return total, relation, facet_counts, None, page, scope, stories

    def _ranked(
        self, query: Query, req: SearchRequest, offset: int, limit: int, need: int, values: Snapshot | None = None
    ) -> tuple[int, str, Counts, LabelCounts | None, list[Candidate], list[int] | None]:
        """(total, its relation, facet counts, label counts (None: to be counted over the ids of every result),
        the candidates at [offset, offset + limit) in the request's order, the ids of every result (None in
        keyword mode and browsing, whose result set is a query in SQL)).

        Semantic and hybrid modes keep only justified candidates (`justify.justified`): the
        total counts them, and a date sort orders them, never the rest of the window.
        """
        browse = query.is_empty and query.has_filters  # filters alone: list the filtered articles
        if browse or req.mode == "keyword":
            total, facet_counts, labels, page, _ = matchset.match_set(
                *self._context, query, req, offset, limit, keyword=not browse, values=values
            )
            return total, self._relation(query, browse), facet_counts, labels, page, None
        candidates, saturated = self._candidates(query, req.mode, need)
        ranked = sorted(candidates.values(), key=lambda c: -c.score)  # stable: fusion order on ties
        ranked = justified(self.archive, self.settings, query, ranked)
        ids = [c.article_id for c in ranked]
        facet_counts, dates = (values.facets(ids), values.dates(ids)) if values else self._counts_and_dates(ids)
        if req.sort != "relevance":
            oldest = req.sort == "oldest"
            missing = datetime.max if oldest else datetime.min  # undated articles go last either way
            ranked.sort(key=lambda c: dates.get(c.article_id) or missing, reverse=not oldest)
        relation = "gte" if saturated else "eq"
        return (
            len(ranked),
            relation,
            facet_counts,
            None,
            ranked[offset : offset + limit],
            [c.article_id for c in ranked],
        )

    def _relation(self, query: Query, browse: bool) -> str:
        """'gte' when a keyword match set was counted within its newest matches only (KeywordIndex), else 'eq'."""
        if browse:
            return "eq"
        with self.archive.engine.connect() as conn:
            return "gte" if self.archive.keyword.counted_in_window(conn, ranking_terms(query)) else "eq"

    def _candidates(self, query: Query, mode: str, need: int) -> tuple[dict[int, Candidate], bool]:
        """Semantic or hybrid candidates, fused per article, and whether a window may have cut off
        justified articles (the keyword window full, or the semantic one ending above the floor).

        Hybrid windows depend on the query only, never on the page asked for: score
        normalisation runs over the whole window, so a page-dependent window would let
        page 2 disagree with page 1; the pages end where the union of the windows ends
        (`total`). Semantic mode widens with the page instead; that only appends
        lower-scored articles (see semantic_article_scores), so its pages stay consistent.
        """
        s = self.settings
        archive = self.archive
        by_article: dict[int, Candidate] = {}
        keyword: list[tuple[int, float]] = []
        if mode == "hybrid":
            semantic_side = self.pool.submit(semantic_articles, archive, query, 1)  # `candidates` chunks
            keyword = keyword_articles(archive, query, s.candidates, s.number_weight)
            for rank, (article_id, score) in enumerate(keyword, start=1):
                by_article[article_id] = Candidate(article_id, keyword_rank=rank, keyword_score=score)
            semantic = semantic_side.result()
        else:
            semantic = semantic_articles(archive, query, need)
        for rank, (article_id, score, chunk_id, cosine) in enumerate(semantic, start=1):
            c = by_article.setdefault(article_id, Candidate(article_id))
            c.semantic_rank, c.semantic_score, c.semantic_chunk, c.cosine = rank, score, chunk_id, cosine
        # The hits come best first: when the weakest article's best chunk is still above the floor,
        # more articles above it may lie beyond the window (a bound, since the window is chunk-sized).
        window = s.candidates if mode == "hybrid" else max(s.candidates, 2 * need)  # chunks the search asked for
        saturated = bool(semantic) and min(t[3] for t in semantic) >= s.relevance_floor
        saturated = saturated and archive.vectors.count > window  # else the window held every chunk
        saturated = saturated or (mode == "hybrid" and len(keyword) >= s.candidates)
        if mode == "semantic":
            for c in by_article.values():
                c.score = c.semantic_score or 0.0
            return by_article, saturated
        # the keyword-only candidates' cosines (for the floor, `justified`) are read beside the fusion
        filling = self.pool.submit(fill_cosines, archive, query, [c for c in by_article.values() if c.cosine is None])
        weights = fusion_weights(s, query)
        if s.fusion in ("zscore", "minmax"):
            # Each side's scores standardised over its own candidate window, then a weighted sum;
            # an article only one side found gets the other side's lowest value.
            fused = score_mix(
                {"keyword": dict(keyword), "semantic": {a: sc for a, sc, _, _ in semantic}},
                weights=weights,
                normalise=s.fusion,
            )
            if s.rerank_window:
                fused, matched = rerank(archive, s, query, keyword, semantic, fused, self.pool)
                for article_id, words in matched.items():
                    by_article[article_id].matched = words  # justify reuses the look-up
        else:
            fused = rrf(
                {"keyword": [a for a, _ in keyword], "semantic": [a for a, _, _, _ in semantic]},
                k=s.rrf_k,
                weights=weights,
            )
        filling.result()
        ordered: dict[int, Candidate] = {}
        for article_id, score in fused:  # fused order; a zero-weight side's own hits drop out
            c = by_article[article_id]
            c.score = score
            ordered[article_id] = c
        return ordered, saturated

    @property
    def _context(self) -> tuple[Archive, Settings, ThreadPoolExecutor]:
        """What the match-set functions (`matchset.py`) read: the archive, the settings, the side-thread pool."""
        return self.archive, self.settings, self.pool

    def _label_counts(self, article_ids: list[int]) -> LabelCounts:  # without doc values
        """Label counts (`Settings.labels`) over a ranked result set."""
        if not self.settings.labels or not article_ids:
            return {}
        with self.archive.engine.connect() as conn:
            return reads.label_counts(conn, list(self.settings.labels.values()), article_ids)

    def _label_lists(self, counts: LabelCounts) -> dict[str, list[dict]]:
        """The label facets: each label's most frequent values over the whole result set."""
        out = {}
        for name, field in self.settings.labels.items():
            values = sorted(counts.get(field, {}).items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_FACET_VALUES]
            out[name] = [{"value": v, "count": n} for v, n in values]
        return out

    def _counts_and_dates(
        self, article_ids: list[int]
    ) -> tuple[dict[tuple[str | None, date | None], int], dict[int, datetime | None]]:
        """Counts per (source, day) over the candidate set, and each candidate's date (one query)."""
        counts: dict[tuple[str | None, date | None], int] = {}
        dates: dict[int, datetime | None] = {}
        if not article_ids:
            return counts, dates
        with self.archive.engine.connect() as conn:
            rows = reads.sources_and_dates(conn, article_ids)
        for aid, source, published in rows:
            dates[aid] = published
            key = (source, published.date() if published else None)
            counts[key] = counts.get(key, 0) + 1
        return counts, dates


def _without_labels(
    ranked: tuple[int, str, Counts, LabelCounts | None, list[Candidate], list[int] | None],
) -> tuple[int, str, Counts, list[Candidate], list[int] | None]:
    """`Searcher._ranked`'s answer as `collapse.collapsed` takes it (a ranked set's labels are counted later)."""
    total, relation, counts, _, page, scope = ranked
    return total, relation, counts, page, scope
