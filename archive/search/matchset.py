"""Keyword mode and filter-only browsing: every matching article is the candidate set.

Counted, faceted, sorted and paged over the whole match set, so totals are exact and a deep page
or a date sort costs no more than the first page. With `fold`, one result per story: the count
counts stories and the page folds a bounded window (`collapse.folded_page`).

Two ways to count, the same answer (tests/test_doc_values.py): with the archive's doc values
(`store/docvalues.py`, `Settings.doc_values`), one statement reads the ids of the matches beside the
page statement and they are counted in memory (`collapse.value_counts`; the versions of a story
among them ordered by the scores of the matches that have near copies, read beside them); without them, SQL counts: the later
versions of each story read once (`story_copies`), then the counts per source and day and the counts
per label side by side, each on its own connection, beside the page.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from archive.archive import Archive
from archive.config import Settings
from archive.query import Query
from archive.search import collapse
from archive.search.request import SearchRequest
from archive.search.results import Candidate
from archive.search.terms import ranking_terms
from archive.store import reads
from archive.store.docvalues import Snapshot
from archive.store.filters import Counts, LabelCounts

MatchSet = tuple[int, Counts, LabelCounts, list[Candidate], dict[int, int]]


def match_set(
    archive: Archive,
    settings: Settings,
    pool: ThreadPoolExecutor,
    query: Query,
    req: SearchRequest,
    offset: int,
    limit: int,
    *,
    keyword: bool,
    fold: bool = False,
    values: Snapshot | None = None,
) -> MatchSet:
    """(total, counts per (source, day), label counts, the page at [offset, offset + limit), representative id ->
    story id ({} without `fold`)) of the keyword matches (`keyword`) or the filtered articles."""
    terms = ranking_terms(query)
    title_weight = settings.title_weight
    fields = list(settings.labels.values())
    if values is not None:

        def matched() -> list[int]:
            with archive.engine.connect() as conn:
                return archive.keyword.matched_ids(conn, terms) if keyword else reads.browse_ids(conn, query)

        def grouped_scores() -> dict[int, float]:
            with archive.engine.connect() as conn:
                return archive.keyword.grouped_scores(conn, terms, title_weight)

        sort = req.sort if keyword else "oldest" if req.sort == "oldest" else "newest"  # browsing: newest first

        def counted() -> tuple[Counts, LabelCounts]:
            # the versions' scores (a second BM25 statement) are read only when a story has two versions among
            # the matches: most match sets have none
            return collapse.value_counts(values, matched(), fields, sort if fold else None, grouped_scores)

        counting = pool.submit(counted)  # beside the page: the ids, then (maybe) the versions' scores, the counts
        page, stories = match_page(archive, settings, query, req, offset, limit, keyword, fold, values)
        facet_counts, labels = counting.result()
        return sum(facet_counts.values()), facet_counts, labels, page, stories

    copies: list[int] = []
    if fold:  # the later versions of each story, read once for both counting statements
        with archive.engine.connect() as conn:
            if keyword:
                copies = archive.keyword.story_copies(conn, terms, sort=req.sort, title_weight=title_weight)
            else:
                copies = reads.browse_copies(conn, query, oldest=req.sort == "oldest")

    def counts(fields: list[str] | None) -> tuple[Counts, LabelCounts]:
        with archive.engine.connect() as conn:
            if keyword:
                return archive.keyword.facet_counts(
                    conn, terms, stories=fold, title_weight=title_weight, fields=fields, copies=copies
                )
            return reads.browse_counts(conn, query, stories=fold, fields=fields, copies=copies)

    counting = pool.submit(counts, None)
    labelling = pool.submit(counts, fields) if fields else None
    page, stories = match_page(archive, settings, query, req, offset, limit, keyword, fold, None)
    facet_counts = counting.result()[0]
    labels = labelling.result()[1] if labelling is not None else {}
    return sum(facet_counts.values()), facet_counts, labels, page, stories


def match_page(
    archive: Archive,
    settings: Settings,
    query: Query,
    req: SearchRequest,
    offset: int,
    limit: int,
    keyword: bool,
    fold: bool,
    values: Snapshot | None,
) -> tuple[list[Candidate], dict[int, int]]:
    """A page of a match set in the request's order (folded with `fold`), and its representatives' stories."""
    terms = ranking_terms(query)
    title_weight = settings.title_weight

    def window(start: int, size: int) -> list[Candidate]:
        with archive.engine.connect() as conn:
            if keyword:
                rows = archive.keyword.page(
                    conn, terms, sort=req.sort, limit=size, offset=start, title_weight=title_weight
                )
                return [Candidate(a, keyword_rank=rank, keyword_score=score, score=score) for a, score, rank in rows]
            # browsing: newest first unless asked for oldest; undated last either way
            ids = reads.browse_page(conn, query, oldest=req.sort == "oldest", limit=size, offset=start)
            return [Candidate(a) for a in ids]

    if fold:
        return collapse.folded_page(archive, lambda size: window(0, size), offset, limit, values)
    return window(offset, limit), {}
