"""PostgreSQL keyword index: a weighted `tsvector` with a GIN index, ranked by BM25 in SQL.

Document side (`postgres_schema.py`). A row trigger keeps `articles.search_vector` (title at
weight A, body at weight B) and `articles.search_length` (its tokens) in step with title and
body, inside the writer's own transaction, like FTS5's triggers on SQLite. The configuration
`archive_english` stems with Porter (FTS5's stemmer), keeps stop words (FTS5 has none), and
folds diacritics with `unaccent` when the extension can be installed. Punctuation
becomes a space before parsing, so a document splits into words where the query parser's
`word_parts` splits a query ("U.S." is u + s, "COVID-19" is covid + 19), not into
PostgreSQL's host names, e-mail addresses and signed numbers.

Statistics. Statement triggers with transition tables keep `keyword_terms(lexeme, df)` (how
many articles hold each lexeme) and the one row of `keyword_totals(docs, tokens)`; an INSERT,
UPDATE or DELETE of many articles updates them once.

Ranking: the BM25 that SQLite FTS5's `bm25()` computes, so both backends order alike. For an
article d and each positive lexeme q of the query (its words and phrase words, stemmed):

    score(d) = sum over q of  idf(q) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))
    tf       = title_weight * (occurrences of q in the title) + (occurrences of q in the body)
    idf(q)   = max(ln((N - df(q) + 0.5) / (df(q) + 0.5)), 1e-6)

with k1 = 1.2, b = 0.75, N the articles indexed, |d| the article's tokens and avgdl their
mean. `tf` is counted from the positions of the query's lexemes only: `setweight` marks them,
`ts_filter` keeps them (in the whole vector, and in its title part), and only these few
entries are unnested (unnesting a whole vector costs ~0.1 ms per article).

Bounding the work. Only matches (`search_vector @@ tsquery`, through the GIN index) are
scored, but an OR of common words matches most of an archive. When more than CANDIDATE_BOUND
articles may match (the sum of the lexemes' df, at most N), the window of the ranking asked
for is first taken from the matches holding one of the query's rarest lexemes (rarest first,
while their df add up to at most the bound; the GIN index finds them). Any other match holds
only the common lexemes, so its score is below their `ceiling` = (k1 + 1) * sum of their idf:
when the window's last score is above it, the window is exact; otherwise (a window deep into
weak matches) every match is scored. Either way the order is exactly BM25's. Unlike a bound
by `ts_rank_cd` (no idf), this one never reads the matches it leaves out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    ColumnElement,
    Connection,
    Float,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.engine import Row
from sqlalchemy.sql.elements import Grouping

from archive.query import Node, Query, compile_expression
from archive.query.compile import compile_excluded
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
from archive.store.keyword.postgres_plan import K1, B, _Plan, _plan
from archive.store.keyword.postgres_schema import CONFIG, clean_pending, create_schema
from archive.store.keyword.postgres_words import PostgresWords
from archive.store.keyword.tsquery import TSQUERY_DIALECT, _lexeme, to_tsquery_text
from archive.store.models import ArticleRow, SignatureRow

SEARCH_VECTOR = literal_column("articles.search_vector", TSVECTOR)
SEARCH_LENGTH = literal_column("articles.search_length", Integer)


def _tsquery(expression: str, name: str) -> ColumnElement:
    return func.to_tsquery(literal_column(f"'{CONFIG}'::regconfig"), bindparam(name, expression, type_=Text))


def _matches(expression: str, name: str) -> ColumnElement[bool]:
    """The articles matching; none when no positive word survives normalisation (a query of marks
    or symbols minus an exclusion would otherwise be `!excluded`, matching everything else)."""
    tsquery = _tsquery(expression, name)
    return and_(SEARCH_VECTOR.op("@@", return_type=Boolean)(tsquery), func.querytree(tsquery) != literal("T", Text))


class PostgresKeywordIndex(PostgresWords):
    """The KeywordIndex contract on PostgreSQL full-text search."""

    def create(self, conn: Connection) -> None:
        """Create the configuration, columns, index, statistics and triggers; backfill what is behind."""
        create_schema(conn)

    def compact(self, conn: Connection) -> int:
        """Merge the GIN index's pending list (`postgres_schema.clean_pending`); the pages merged."""
        return clean_pending(conn)

    @staticmethod
    def _scored(
        query: Query,
        expression: str,
        plan: _Plan,
        title_weight: float,
        *,
        essential: bool = False,
        grouped: bool = False,
    ) -> Select:
        """(id, published, score) of the matches: all of them, or only those holding an essential lexeme,
        or (`grouped`) only those that have near copies."""
        conditions = [_matches(expression, "ts_query"), *article_filters(query)]
        if grouped:
            conditions.append(
                ArticleRow.id.in_(select(SignatureRow.article_id).where(SignatureRow.story_id.is_not(None)))
            )
        if essential and plan.essential:
            any_essential = " | ".join(map(_lexeme, plan.essential))  # lexemes already: cast, not parsed again
            conditions.append(
                SEARCH_VECTOR.op("@@", return_type=Boolean)(
                    cast(bindparam("ts_essential", any_essential, Text), TSQUERY)
                )
            )
        matches = (
            select(
                ArticleRow.id.label("id"),
                ArticleRow.published_at.label("published"),
                SEARCH_VECTOR.label("vector"),
                SEARCH_LENGTH.label("length"),
            )
            .where(*conditions)
            .cte("matches")
        )
        # Only the query's lexemes, with their positions: weight D marks them in the title part,
        # C in the whole vector, ts_filter drops the rest, and the concatenation (title first, so
        # no position is pushed past the 16,383 limit) holds each lexeme once: C counts its
        # occurrences anywhere, D those in the title. At most one unnested row per query lexeme.
        lexemes = bindparam("ts_lexemes", plan.lexemes, ARRAY(Text))

        def marked(vector: ColumnElement, weight: str) -> ColumnElement:
            return func.ts_filter(
                func.setweight(vector, literal_column(f"'{weight}'"), lexemes), literal_column(f"'{{{weight}}}'")
            )

        title = func.ts_filter(matches.c.vector, literal_column("'{a}'"))
        found = (
            func.unnest(marked(title, "D").op("||")(marked(matches.c.vector, "C")))
            .table_valued("lexeme", "positions", "weights")
            .lateral("found")
        )
        idfs = Grouping(
            cast(bindparam("ts_idfs", plan.idfs, ARRAY(Float)), ARRAY(Float))
        )  # (...)[i] needs the parentheses
        idf = idfs[func.array_position(lexemes, found.c.lexeme)]

        def count(weight: str) -> ColumnElement:
            return func.cardinality(func.array_positions(found.c.weights, literal_column(f"'{weight}'")))

        tf = count("C") + (float(title_weight) - 1.0) * count("D")
        norm = K1 * (1 - B + B * matches.c.length / float(plan.avgdl or 1.0))
        score = func.sum(idf * tf * (K1 + 1) / (tf + norm)).label("score")
        joined = matches.join(found, true())
        return (
            select(matches.c.id, matches.c.published, score)
            .select_from(joined)
            .group_by(matches.c.id, matches.c.published)
        )

    def _window(self, conn: Connection, query: Query, title_weight: float, limit: int, offset: int) -> list[Row]:
        """Rows (id, score) `offset` to `offset + limit` of the matches in BM25 order (ties by id)."""
        expression = to_tsquery_text(query)
        if expression is None:
            return []
        plan = _plan(conn, query)
        for essential in (True, False) if plan.essential else (False,):
            inner = self._scored(query, expression, plan, title_weight, essential=essential).subquery()
            stmt = select(inner.c.id, inner.c.score).order_by(inner.c.score.desc(), inner.c.id).limit(limit)
            rows = conn.execute(stmt.offset(offset)).all()
            if not essential or (len(rows) == limit and rows[-1].score > plan.ceiling):
                return rows
        return []  # not reached

    def rank(self, conn: Connection, query: Query, limit: int, title_weight: float) -> list[tuple[int, float]]:
        """The best `limit` (article id, BM25) over title and body, best first."""
        return [(int(r.id), float(r.score)) for r in self._window(conn, query, title_weight, limit, 0)]

    def page(
        self, conn: Connection, query: Query, *, sort: str, limit: int, offset: int, title_weight: float
    ) -> list[tuple[int, float, int]]:
        """One page over all matches: by relevance, or by date with each match's relevance rank kept."""
        if sort == "relevance":
            rows = self._window(conn, query, title_weight, limit, offset)
            return [(int(r.id), float(r.score), position) for position, r in enumerate(rows, start=offset + 1)]
        expression = to_tsquery_text(query)
        if expression is None:
            return []
        dated = (
            select(ArticleRow.id)
            .where(_matches(expression, "ts_query"), *article_filters(query))
            .order_by(*date_order(ArticleRow.published_at, ArticleRow.id, oldest=sort == "oldest"))
            .limit(limit)
            .offset(offset)
        )
        ids = [int(i) for i in conn.scalars(dated)]
        if not ids:
            return []
        plan = _plan(conn, query)
        ranks: dict[int, tuple[float, int]] = {}
        for essential in (True, False) if plan.essential else (False,):
            inner = self._scored(query, expression, plan, title_weight, essential=essential).subquery()
            rank = func.row_number().over(order_by=(inner.c.score.desc(), inner.c.id)).label("rnk")
            ranked = select(inner.c.id, inner.c.score, rank).subquery()
            wanted = [i for i in ids if i not in ranks]
            for r in conn.execute(select(ranked).where(ranked.c.id.in_(wanted))):
                if not essential or r.score > plan.ceiling:  # only then is its rank among the first the rank
                    ranks[int(r.id)] = (float(r.score), int(r.rnk))
            if len(ranks) == len(ids):
                break
        # A match no scored pass ranked (a Boolean constraint matched through words that carry no
        # score, e.g. only a prefix): it ranks after every scored match.
        last = max((r for _, r in ranks.values()), default=0) + 1
        return [(i, *ranks.get(i, (0.0, last))) for i in ids]

    def story_copies(
        self, conn: Connection, query: Query, *, sort: str = "relevance", title_weight: float = 1.0
    ) -> list[int]:
        """The matches that are a later version of their story in `sort` order (`filters.story_copies`): only the
        matches that have near copies are scored and ordered (a match no lexeme scores ranks after the scored
        ones, as in `page`)."""
        expression = to_tsquery_text(query)
        if expression is None:
            return []
        grouped = story_ids()
        columns: list[Any] = [
            ArticleRow.id.label("id"),
            grouped.c.story_id.label("story"),
            ArticleRow.published_at.label("published"),
        ]
        joined: Any = ArticleRow.__table__.join(grouped, grouped.c.article_id == ArticleRow.id)
        if sort == "relevance":
            plan = _plan(conn, query)
            scored = self._scored(query, expression, plan, title_weight, grouped=True).subquery("scored")
            columns.append(func.coalesce(scored.c.score, -1.0).label("score"))  # BM25 scores are positive
            joined = joined.outerjoin(scored, scored.c.id == ArticleRow.id)
        grouped_matches = (
            select(*columns).select_from(joined).where(_matches(expression, "ts_query"), *article_filters(query))
        )
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
        """Matches per (source, UTC day of publication), or, given `fields`, per label value of each of them;
        with `stories`, each story once, under its first version in `sort` order (`copies`: `story_copies`
        already read for this query and order)."""
        expression = to_tsquery_text(query)
        if expression is None:
            return {}, {f: {} for f in fields or ()}
        if stories and copies is None:
            copies = self.story_copies(conn, query, sort=sort, title_weight=title_weight)
        conditions = [_matches(expression, "ts_query"), *article_filters(query)]
        if stories and copies:
            conditions.append(ArticleRow.id.not_in(list(copies)))
        matched = select(
            ArticleRow.id.label("id"), ArticleRow.source.label("source"), publication_day().label("day")
        ).where(*conditions)
        return read_facets(conn.execute(facet_counts(matched, fields)).all(), fields)

    def matched_ids(self, conn: Connection, query: Query) -> list[int]:
        """The matches `facet_counts` counts (all of them)."""
        expression = to_tsquery_text(query)
        if expression is None:
            return []
        return [
            int(i)
            for i in conn.scalars(
                select(ArticleRow.id).where(_matches(expression, "ts_query"), *article_filters(query))
            )
        ]

    def grouped_scores(self, conn: Connection, query: Query, title_weight: float) -> dict[int, float]:
        """The scores of the matches that have near copies, as `page` scores them (a match no lexeme scores is
        left out)."""
        expression = to_tsquery_text(query)
        if expression is None:
            return {}
        plan = _plan(conn, query)
        scored = self._scored(query, expression, plan, title_weight, grouped=True).subquery()
        return {int(i): float(v) for i, v in conn.execute(select(scored.c.id, scored.c.score))}

    def satisfying(self, expression: Node | None, within: tuple[Any, Any] | None = None) -> ColumnElement[bool] | None:
        """Articles satisfying a Boolean tree: one tsquery match, or, for a tree that only excludes, the
        articles matching none of its exclusions. `within` is not needed: the test is on the row itself."""
        if expression is None:
            return None
        required = compile_expression(expression, TSQUERY_DIALECT)
        if required is not None:
            return _matches(required, "ts_require")
        excluded = compile_excluded(expression, TSQUERY_DIALECT)
        return None if excluded is None else not_(_matches(excluded, "ts_exclude"))

    def satisfying_ids(self, expression: Node | None) -> tuple[Select, bool] | None:
        """`satisfying` as one column of article ids: (the ids satisfying a tree that requires something, True),
        or for a tree that only excludes (the ids failing it, False: `IS NOT TRUE`, as NULL fails too)."""
        restriction = self.satisfying(expression)
        if restriction is None:
            return None
        if compile_expression(expression, TSQUERY_DIALECT) is not None:
            return select(ArticleRow.id).where(restriction), True
        return select(ArticleRow.id).where(restriction.is_not(true())), False

    def containing(self, conn: Connection, expression: Node, article_ids: Sequence[int]) -> set[int]:
        """Which of `article_ids` match `expression` (`words_in` with one word)."""
        return set(self.words_in(conn, {"": expression}, article_ids))

    def words_in(self, conn: Connection, words: dict[str, Node], article_ids: Sequence[int]) -> dict[int, set[str]]:
        """Which of `words` each of `article_ids` matches: every tsquery tested on just those rows, in one pass
        over them."""
        found: dict[int, set[str]] = {}
        tests = []
        for n, label in enumerate(words):
            required = compile_expression(words[label], TSQUERY_DIALECT)
            if required is not None:
                tests.append((label, _matches(required, f"ts_contains_{n}")))
        if not tests or not article_ids:
            return found
        columns = [case((condition, True), else_=False).label(f"m{n}") for n, (_, condition) in enumerate(tests)]
        for start in range(0, len(article_ids), 10_000):
            part = [int(i) for i in article_ids[start : start + 10_000]]
            stmt = select(ArticleRow.id, *columns).where(ArticleRow.id.in_(part), or_(*(c for _, c in tests)))
            for row in conn.execute(stmt).all():
                found[int(row[0])] = {label for n, (label, _) in enumerate(tests) if row[n + 1]}
        return found

    def counted_in_window(self, conn: Connection, query: Query) -> bool:
        """Always False: on PostgreSQL counts cover every match."""
        return False

    def restriction(self, query: Query) -> ColumnElement[bool] | None:
        """Articles satisfying the query's Boolean constraint (required clauses, no exclusion)."""
        return self.satisfying(query.boolean)
