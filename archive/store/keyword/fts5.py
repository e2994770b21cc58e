"""SQLite FTS5 keyword index: `article_fts(title, body)`, rowid = article id, porter stemming.

BM25 over the whole story is what a keyword search should rank (a story that mentions the
query words in several paragraphs beats one that mentions them once), and phrases and
exclusions are judged on the whole article. `article_fts` is an external-content table over
`articles` kept in sync by SQL triggers, so every writer (even an older build of this code)
maintains it inside its own transaction, and it stores no second copy of the text. Archives
made before it existed are backfilled on open (two cheap counts decide).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, literal_column, select, text

from archive.limits import CANDIDATE_WINDOW, FILTER_DRIVES, KEYWORD_WINDOW, RANK_WINDOW
from archive.query import Node, Query, Term
from archive.query.compile import compile_excluded
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
from archive.store.keyword.fts5_schema import FTS, create_schema, matches, merge_segments
from archive.store.keyword.fts5_score import DrivenBm25, scored_rows
from archive.store.keyword.fts5_syntax import FTS5, TABLE, expression_to_fts5, to_fts5
from archive.store.keyword.fts5_words import Fts5Words, words_in
from archive.store.models import ArticleRow, SignatureRow

BODY_WEIGHT = 1.0  # BM25 column weights are (title, body); the title's comes from Settings.title_weight
WINDOW_SECONDS = 10.0  # how long a query's `window` is remembered
WINDOW_MEMORY = 256  # expressions whose window is remembered
NARROW_WORDS = 3  # `narrowing`: queries of at least this many optional words ...
NARROW_BOUND = 1000  # ... score only their rarest words' matches, up to this many (SciFact: docs/search.md) ...
NARROW_ARCHIVE = 100_000  # ... in an archive of more articles than this (below, scoring every match is cheap and exact:
# the first pass cost the Reuters known-item TEST headlines 0.6 points of keyword and hybrid nDCG@10)


class Fts5KeywordIndex(Fts5Words):
    """The KeywordIndex contract on SQLite FTS5."""

    def __init__(self) -> None:
        self._floors: OrderedDict[tuple[str, int], tuple[float, int | None]] = OrderedDict()  # `window`, per expression
        self._lock = threading.Lock()
        self._bm25 = DrivenBm25()  # a driven match set's BM25 (`_driven`)

    def create(self, conn: Connection) -> None:
        """Create the table and its triggers on `articles`; backfill it when its row count is behind."""
        create_schema(conn)

    def compact(self, conn: Connection) -> int:
        """Merge the index's segments into one (`fts5_schema.merge_segments`); how many there were."""
        return merge_segments(conn)

    def _scored(self, query: Query, title_weight: float, *, dated: bool = True) -> Select | None:
        """(select of article id, published_at (with `dated`), score over the matches), or None when nothing is
        positive. Without `dated` and filters the statement reads the index alone (no row of `articles`)."""
        match = to_fts5(query)
        if match is None:
            return None
        score = literal_column(f"-bm25({TABLE}, {float(title_weight)}, {BODY_WEIGHT})").label("score")
        filters = article_filters(query)
        if not dated and not filters:
            return select(FTS.c.rowid.label("id"), score).where(matches("fts_match", match))
        return (
            select(CARDS.c.id.label("id"), CARDS.c.published_at.label("published"), score)
            .select_from(FTS.join(CARDS, CARDS.c.id == FTS.c.rowid))
            .where(matches("fts_match", match), *article_filters(query, CARDS))
        )

    def counted_in_window(self, conn: Connection, query: Query) -> bool:
        """True when counts and facets cover only the newest `KEYWORD_WINDOW` matches (a total is then 'at least')."""
        return self._scope(conn, query, KEYWORD_WINDOW)[1]

    def _scope(
        self, conn: Connection, query: Query, size: int, *, scoring: bool = False
    ) -> tuple[list[ColumnElement[bool]], bool]:
        """What keeps a statement over the matches from reading every match (conditions on the FTS rowid):
        narrow filters drive it (the filtered articles looked up one by one, `FILTER_DRIVES`), else a match set
        above `size` is cut to its newest `size` matches (`window`); ([], False) when neither applies. The flag:
        the window cut it. `scoring` (bm25() statements): the filtered articles kept by SQLite (`+rowid IN`), or
        FTS5 would rerun the match, and bm25() its whole-index walks, once per article."""
        drives = self._drives(conn, query, scoring=scoring)
        if drives is not None:
            return [drives], False
        floor = self.window(conn, query, size)
        return ([], False) if floor is None else ([FTS.c.rowid >= floor], True)

    def _drives(self, conn: Connection, query: Query, *, scoring: bool = False) -> ColumnElement[bool] | None:
        """`rowid IN (the filtered articles)` when the query's filters select at most `FILTER_DRIVES` (`_scope`)."""
        filters = article_filters(query)
        if filters:
            few = select(ArticleRow.id).where(*filters).limit(FILTER_DRIVES + 1).subquery()
            if int(conn.scalar(select(func.count()).select_from(few)) or 0) <= FILTER_DRIVES:
                rowid = literal_column(f"+{TABLE}.rowid") if scoring else FTS.c.rowid
                return rowid.in_(select(ArticleRow.id).where(*filters))
        return None

    def _driven_scores(
        self, conn: Connection, query: Query, title_weight: float, *, grouped: bool = False
    ) -> dict[int, float] | None:
        """-bm25() of the matches (with `grouped`: those that have near copies) when narrow filters drive the
        query, computed for them alone (`fts5_score`); None when they do not, or for a shape left to bm25()."""
        match = to_fts5(query)
        drives = self._drives(conn, query) if match is not None else None
        if match is None or drives is None:
            return None
        return self._bm25.matches(conn, query, match, drives, (float(title_weight), BODY_WEIGHT), grouped=grouped)

    def _driven(self, conn: Connection, query: Query, title_weight: float, *, grouped: bool = False) -> Select | None:
        """`_driven_scores` as a select of (id, published, score), or None."""
        scores = self._driven_scores(conn, query, title_weight, grouped=grouped)
        return None if scores is None else scored_rows(scores)

    def window(self, conn: Connection, query: Query, size: int) -> int | None:
        """The smallest article id of the newest `size` matches of the query's expression (filters
        aside) when it has more, else None. Read newest first from the index (O(window), not O(matches)) and
        remembered for `WINDOW_SECONDS` per expression (a few new matches meanwhile only widen it a little)."""
        match = to_fts5(query)
        if match is None:
            return None
        now = time.monotonic()
        with self._lock:  # one search asks several times (page, counts, labels, copies): answered once
            known = self._floors.get((match, size))
            if known is not None and now - known[0] < WINDOW_SECONDS:
                return known[1]
        floor = None
        # ids are never reused: an archive of at most `size` ids never needs the window (no index read)
        if self._articles(conn) > size:
            stmt = (
                select(FTS.c.rowid)
                .where(matches("fts_window", match))
                .order_by(FTS.c.rowid.desc())
                .limit(1)
                .offset(size)
            )
            beyond = conn.scalar(stmt)
            floor = None if beyond is None else int(beyond) + 1
        with self._lock:
            self._floors[(match, size)] = (now, floor)
            while len(self._floors) > WINDOW_MEMORY:
                self._floors.popitem(last=False)
        return floor

    def narrowing(self, conn: Connection, query: Query, limit: int) -> str | None:
        """The first pass on the rarest words: an FTS5 expression of the query's rarest optional words whose
        matches (at least `limit`, at most `NARROW_BOUND`) are the only articles a ranking scores, or None
        when every word is rare enough to score them all (or none is).

        BM25 costs per match and per word (a 15-word claim scores nearly every SciFact abstract: ~25 ms); an
        article none of whose rare words occur scores only the common words' low idf and seldom reaches a
        candidate window. Each word's match count is read capped (at most `NARROW_BOUND` + 1 postings per word,
        one statement for all)."""
        words = list(dict.fromkeys(query.terms))
        if len(words) < NARROW_WORDS:
            return None
        if self._articles(conn) <= NARROW_ARCHIVE:
            return None
        atoms = [m for w in words if (m := expression_to_fts5(Term(w))) is not None]
        parts = [
            f"SELECT {n} AS word, (SELECT count(*) FROM (SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH :w{n} "
            f"LIMIT {NARROW_BOUND + 1})) AS n"
            for n in range(len(atoms))
        ]
        counts = sorted(
            (int(n), int(word))
            for word, n in conn.execute(text(" UNION ALL ".join(parts)), {f"w{i}": a for i, a in enumerate(atoms)})
        )
        chosen, total = [], 0
        for n, word in counts:
            if total >= limit or total + n > NARROW_BOUND:
                break
            chosen.append(atoms[word])
            total += n
        if total < limit or len(chosen) == len(atoms):
            return None
        return FTS5.any_of(chosen)

    def _bounded(self, conn: Connection, query: Query, scored: Select, limit: int) -> Select:
        """`scored` restricted to the matches of the query's rarest words, when `narrowing` finds them."""
        narrow = self.narrowing(conn, query, limit)
        if narrow is None:
            return scored
        rare = select(FTS.c.rowid).where(matches("fts_narrow", narrow))
        return scored.where(literal_column(f"+{TABLE}.rowid").in_(rare))  # unary plus: SQLite filters, FTS5 reads

    @staticmethod
    def _articles(conn: Connection) -> int:  # the highest article id (ids are never reused: the most ever stored)
        return int(conn.scalar(select(func.max(ArticleRow.id))) or 0)

    def rank(self, conn: Connection, query: Query, limit: int, title_weight: float) -> list[tuple[int, float]]:
        """The best `limit` (article id, BM25), best first (among the rarest words' matches: `narrowing`; in a big
        archive among the newest `CANDIDATE_WINDOW` matches)."""
        scored = self._scored(query, title_weight, dated=False)
        if scored is None:
            return []
        order = (literal_column("score").desc(), literal_column("id"))
        if (driven := self._driven(conn, query, title_weight)) is not None:  # every match scored, exactly
            return [(int(r.id), float(r.score)) for r in conn.execute(driven.order_by(*order).limit(limit))]
        bounded = self._bounded(conn, query, scored, limit)
        window = RANK_WINDOW if self._articles(conn) <= NARROW_ARCHIVE else CANDIDATE_WINDOW
        if bounded is scored and (scope := self._scope(conn, query, window, scoring=True)[0]):
            scored = self._scored(query, title_weight)  # joined: the scope may name the filters' articles
            assert scored is not None
            bounded = scored.where(*scope)
        rows = [(int(r.id), float(r.score)) for r in conn.execute(bounded.order_by(*order).limit(limit))]
        if len(rows) < limit and bounded is not scored:  # the rare words' matches overlap: fewer than asked
            rows = [(int(r.id), float(r.score)) for r in conn.execute(scored.order_by(*order).limit(limit))]
        return rows

    def page(
        self, conn: Connection, query: Query, *, sort: str, limit: int, offset: int, title_weight: float
    ) -> list[tuple[int, float, int]]:
        """One page over all matches: by relevance, or by date with each match's relevance rank kept (narrow
        filters driving: every match scored by `_driven`)."""
        driven = self._driven(conn, query, title_weight)
        scored = driven if driven is not None else self._scored(query, title_weight)
        if scored is None:
            return []
        scope, windowed = ([], False) if driven is not None else self._scope(conn, query, RANK_WINDOW, scoring=True)
        if sort == "relevance":  # the first pages among the rarest words' matches (`narrowing`) or the newest
            # matches (`window`), when they fill the page; a page beyond them ranks every match
            bounded = scored if driven is not None else self._bounded(conn, query, scored, offset + limit)
            cut = scored.where(*scope) if scope else scored
            tries = ([bounded] if bounded is not scored else []) + ([cut] if cut is not scored else []) + [scored]
            for stmt in tries:
                ordered = (
                    stmt.order_by(literal_column("score").desc(), literal_column("id")).limit(limit).offset(offset)
                )
                rows = [(int(r.id), float(r.score), n) for n, r in enumerate(conn.execute(ordered), start=offset + 1)]
                if len(rows) == limit:
                    break
            return rows
        if scope and not windowed:  # a date order is not cut by id: only narrow filters drive it
            scored = scored.where(*scope)
        inner = scored.subquery()
        rank = func.row_number().over(order_by=(inner.c.score.desc(), inner.c.id)).label("rnk")
        stmt = (
            select(inner.c.id, inner.c.score, rank)
            .order_by(*date_order(inner.c.published, inner.c.id, oldest=sort == "oldest"))
            .limit(limit)
            .offset(offset)
        )
        return [(int(r.id), float(r.score), int(r.rnk)) for r in conn.execute(stmt)]

    def story_copies(
        self, conn: Connection, query: Query, *, sort: str = "relevance", title_weight: float = 1.0
    ) -> list[int]:
        """The matches that are a later version of their story in `sort` order (`filters.story_copies`): only the
        matches that have near copies are scored and ordered."""
        match = to_fts5(query)
        if match is None:
            return []
        grouped = story_ids()
        columns: list[Any] = [
            CARDS.c.id.label("id"),
            grouped.c.story_id.label("story"),
            CARDS.c.published_at.label("published"),
        ]
        if sort == "relevance":
            driven = self._driven(conn, query, title_weight, grouped=True)
            if driven is not None:  # narrow filters: only the grouped matches, scored by `_driven`
                rows = driven.subquery("driven")
                grouped_matches = select(rows.c.id, grouped.c.story_id.label("story"), rows.c.published, rows.c.score)
                joined_rows = grouped_matches.select_from(rows.join(grouped, grouped.c.article_id == rows.c.id))
                return [int(r[0]) for r in conn.execute(story_copies(joined_rows, sort_order(sort))).all()]
            columns.append(literal_column(f"-bm25({TABLE}, {float(title_weight)}, {BODY_WEIGHT})").label("score"))
        joined = FTS.join(CARDS, CARDS.c.id == FTS.c.rowid).join(grouped, grouped.c.article_id == CARDS.c.id)
        conditions = (
            matches("fts_match", match),
            *article_filters(query, CARDS),
            *self._scope(conn, query, KEYWORD_WINDOW, scoring=sort == "relevance")[0],
        )
        grouped_matches = select(*columns).select_from(joined).where(*conditions)
        return [int(r[0]) for r in conn.execute(story_copies(grouped_matches, sort_order(sort))).all()]

    def facet_counts(
        self,
        conn: Connection,
        query: Query,
        *,
        stories: bool = False,
        sort: str = "relevance",
        title_weight: float = 1.0,
        fields: Sequence[str] | None = None,
        copies: Sequence[int] | None = None,
    ) -> tuple[Counts, LabelCounts]:
        """Matches per (source, UTC day of publication), or, given `fields`, per label value of each of them, over
        one FTS5 match (a very large match set: its newest `KEYWORD_WINDOW`, `counted_in_window`); with
        `stories`, each story once, under its first version in `sort` order (`copies`: `story_copies` already
        read for this query and order)."""
        match = to_fts5(query)
        if match is None:
            return {}, {f: {} for f in fields or ()}
        if stories and copies is None:
            copies = self.story_copies(conn, query, sort=sort, title_weight=title_weight)
        day = publication_day(CARDS)
        conditions = [
            matches("fts_match", match),
            *article_filters(query, CARDS),
            *self._scope(conn, query, KEYWORD_WINDOW)[0],
        ]
        if stories and copies:
            conditions.append(CARDS.c.id.not_in(list(copies)))
        matched = (
            select(CARDS.c.id.label("id"), CARDS.c.source.label("source"), day.label("day"))
            .select_from(FTS.join(CARDS, CARDS.c.id == FTS.c.rowid))
            .where(*conditions)
        )
        return read_facets(conn.execute(facet_counts(matched, fields)).all(), fields)

    def matched_ids(self, conn: Connection, query: Query) -> list[int]:
        """The matches `facet_counts` counts: the index alone, or joined to the cards when filtered."""
        match = to_fts5(query)
        if match is None:
            return []
        filters = article_filters(query, CARDS)
        scope = self._scope(conn, query, KEYWORD_WINDOW)[0]
        if filters:
            stmt = (
                select(CARDS.c.id)
                .select_from(FTS.join(CARDS, CARDS.c.id == FTS.c.rowid))
                .where(matches("fts_match", match), *filters, *scope)
            )
        else:
            stmt = select(FTS.c.rowid).where(matches("fts_match", match), *scope)
        return list(conn.scalars(stmt))

    def grouped_scores(self, conn: Connection, query: Query, title_weight: float) -> dict[int, float]:
        """BM25 of the matches that have near copies: one pass over the match, the grouped articles kept by
        SQLite (`+rowid IN`; a `rowid IN` FTS5 would answer by running the whole match once per id), BM25
        computed for them alone."""
        match = to_fts5(query)
        if match is None:
            return {}
        driven = self._driven_scores(conn, query, title_weight, grouped=True)
        if driven is not None:  # narrow filters: scored by `_driven_scores`
            return driven
        score = literal_column(f"-bm25({TABLE}, {float(title_weight)}, {BODY_WEIGHT})").label("score")
        grouped = select(SignatureRow.article_id).where(SignatureRow.story_id.is_not(None))
        filters = article_filters(query, CARDS)
        scope = self._scope(conn, query, KEYWORD_WINDOW, scoring=True)[0]
        stmt = select(FTS.c.rowid, score).where(
            matches("fts_match", match), literal_column(f"+{TABLE}.rowid").in_(grouped), *scope
        )
        if filters:
            stmt = stmt.select_from(FTS.join(CARDS, CARDS.c.id == FTS.c.rowid)).where(*filters)
        return {int(i): float(v) for i, v in conn.execute(stmt)}

    def satisfying(self, expression: Node | None, within: tuple[Any, Any] | None = None) -> ColumnElement[bool] | None:
        """Articles satisfying a Boolean tree: one FTS5 match, or, for a tree that only excludes, the
        articles matching none of its exclusions. `within` (low, high): only article ids in that range are
        asked for, which FTS5 uses to skip the rest of each word's postings (a few new articles against a
        big archive: ~0.7 ms instead of ~50 ms for common words on 18,700 Reuters stories)."""
        found = self.satisfying_ids(expression, within)
        if found is None:
            return None
        ids, passing = found
        return ArticleRow.id.in_(ids) if passing else ArticleRow.id.not_in(ids)

    def satisfying_ids(
        self, expression: Node | None, within: tuple[Any, Any] | None = None
    ) -> tuple[Select, bool] | None:
        """`satisfying` as one column of article ids, read from the FTS5 index alone: (the ids matching the
        tree, True), or for a tree that only excludes (the ids matching an exclusion, False)."""
        if expression is None:
            return None
        bounds = [FTS.c.rowid.between(*within)] if within is not None else []
        match = expression_to_fts5(expression)
        if match is not None:
            return select(FTS.c.rowid).where(matches("fts_require", match), *bounds), True
        excluded = compile_excluded(expression, FTS5)
        if excluded is None:
            return None
        return select(FTS.c.rowid).where(matches("fts_exclude", excluded), *bounds), False

    def containing(self, conn: Connection, expression: Node, article_ids: Sequence[int]) -> set[int]:
        """Which of `article_ids` match `expression` (`words_in` with one word)."""
        return set(self.words_in(conn, {"": expression}, article_ids))

    def words_in(self, conn: Connection, words: dict[str, Node], article_ids: Sequence[int]) -> dict[int, set[str]]:
        """Which of `words` (label -> positive tree) each of `article_ids` matches (`fts5_words.words_in`)."""
        return words_in(conn, words, article_ids)

    def restriction(self, query: Query) -> ColumnElement[bool] | None:
        """Articles satisfying the query's Boolean constraint (required clauses, no exclusion)."""
        return self.satisfying(query.boolean)
