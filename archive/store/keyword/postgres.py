"""PostgreSQL keyword index: a weighted `tsvector` with a GIN index, ranked by BM25 in SQL.

Document side. A row trigger keeps `articles.search_vector` (title at weight A, body at weight
B) and `articles.search_length` (its tokens) in step with title and body, in the writer's own
transaction, like FTS5's triggers on SQLite. The text search configuration `archive_english`
is PostgreSQL's `english` (Snowball/Porter stemming, English stop words) plus `unaccent` when
that extension can be installed (FTS5 removes diacritics too). ASCII and Unicode punctuation
becomes a space before parsing (`archive_search_text`), so a document splits into words
exactly where the query parser's `word_parts` splits a query ("U.S." is u + s, "COVID-19" is
covid + 19), not into PostgreSQL's host names, e-mails and signed numbers. Only the first
BODY_CHARS characters of a body are indexed (a tsvector holds at most 1 MB of lexemes).

Statistics. Statement triggers with transition tables keep `keyword_terms(lexeme, df)` (the
articles containing each lexeme) and the one row of `keyword_totals(docs, tokens)`; one
INSERT, UPDATE or DELETE of many articles updates them once.

Ranking: the BM25 that SQLite FTS5's `bm25()` computes, for the same order on both backends.
For an article d and the query's positive lexemes q (words and phrase words, stemmed):

    score(d) = sum over q in d of  idf(q) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))
    tf       = title_weight * (occurrences of q in the title) + (occurrences of q in the body)
    idf(q)   = max(ln((N - df(q) + 0.5) / (df(q) + 0.5)), 1e-6)

with k1 = 1.2, b = 0.75, N the articles indexed, |d| the article's tokens (stop words left
out), avgdl the mean |d|. Only matches (`search_vector @@ tsquery`, found through the GIN
index) are scored, and the score reads each match's tsvector, so the scored set is bounded
first: when the query's lexemes may match more than CANDIDATE_BOUND articles, the candidates
are the matches holding one of its rarest lexemes (rarest first while their document
frequencies add up to at most the bound). Any other match holds only common lexemes, so its
score is at most (k1 + 1) times the sum of their small idfs: it ranks after the candidates
(scored only when a page reaches past them). This bound uses the statistics, unlike
`ts_rank_cd`, which would read every match and ignores idf.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    extract,
    func,
    literal,
    literal_column,
    not_,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import TSVECTOR

from archive.query import Query, compile_query, phrase_parts, word_parts
from archive.store.filters import article_filters, date_order
from archive.store.keyword.postgres_schema import CONFIG, create_schema
from archive.store.models import ArticleRow

K1, B = 1.2, 0.75
CANDIDATE_BOUND = 5_000  # articles scored per ranking before the rarest-lexeme restriction applies
IDF_FLOOR = 1e-6  # FTS5's floor for terms in more than half the articles

SEARCH_VECTOR = literal_column("articles.search_vector", TSVECTOR)
SEARCH_LENGTH = literal_column("articles.search_length", Integer)


# -- the query ---------------------------------------------------------------------------


def _lexeme(part: str) -> str:
    """One tsquery operand, quoted: whatever the text, it is a single operand (never syntax)."""
    return "'" + part.replace("\\", "\\\\").replace("'", "''") + "'"


def _atom(parts: list[str]) -> str:
    """A word, or a phrase of words one position apart."""
    return _lexeme(parts[0]) if len(parts) == 1 else "(" + " <-> ".join(map(_lexeme, parts)) + ")"


def to_tsquery_text(query: Query) -> str | None:
    """Compile to `to_tsquery('archive_english', ...)` input (never a syntax error), or None when nothing is positive.

    The shape is `to_fts5`'s: required phrases AND (words OR phrases), minus exclusions.
    PostgreSQL stems each quoted operand and drops stop words (a phrase keeps their positions).
    """
    return compile_query(
        query,
        atom=_atom,
        any_of=lambda xs: xs[0] if len(xs) == 1 else "(" + " | ".join(xs) + ")",
        all_of=lambda xs: xs[0] if len(xs) == 1 else "(" + " & ".join(xs) + ")",
        exclude=lambda pos, negs: f"{pos} & !({' | '.join(negs)})",
    )


def _tsquery(expression: str, name: str) -> ColumnElement:
    return func.to_tsquery(literal_column(f"'{CONFIG}'::regconfig"), bindparam(name, expression, type_=Text))


def _matches(expression: str, name: str) -> ColumnElement[bool]:
    return SEARCH_VECTOR.op("@@", return_type=Boolean)(_tsquery(expression, name))


def _positive_words(query: Query) -> tuple[str, str]:
    """(all positive words, the words of required phrases) as plain text, for their lexemes."""
    words = [p for t in query.terms for p in word_parts(t)]
    required = [p for phrase in query.phrases for p in phrase_parts(phrase)]
    return " ".join(words + required), " ".join(required)


def _idf(docs: int, df: int) -> float:
    """FTS5's idf: ln((N - df + 0.5) / (df + 0.5)), floored for words in more than half the articles."""
    ratio = (docs - df + 0.5) / (df + 0.5)
    return max(math.log(ratio), IDF_FLOOR) if ratio > 0 else IDF_FLOOR


@dataclass(frozen=True)
class _Plan:
    """A ranking's statistics: lexemes with their idf, the mean length and the candidate restriction."""

    lexemes: list[str]
    idfs: list[float]
    avgdl: float
    restriction: str | None  # a tsquery over lexemes (cast, not parsed): the candidates, when bounded


def _plan(conn: Connection, query: Query) -> _Plan:
    words, required = _positive_words(query)
    rows = conn.execute(
        text(
            "SELECT l.lexeme, coalesce(t.df, 0) AS df, "
            f"l.lexeme = ANY(tsvector_to_array(to_tsvector('{CONFIG}', :required))) AS required "
            f"FROM unnest(tsvector_to_array(to_tsvector('{CONFIG}', :words))) AS l(lexeme) "
            "LEFT JOIN keyword_terms t ON t.lexeme = l.lexeme ORDER BY df, l.lexeme"
        ),
        {"words": words, "required": required},
    ).all()
    docs, tokens = conn.execute(text("SELECT docs, tokens FROM keyword_totals")).one()
    docs, tokens = int(docs), int(tokens)
    lexemes = [r.lexeme for r in rows]
    idfs = [_idf(docs, r.df) for r in rows]
    bound = sum(r.df for r in rows)
    if any(r.required for r in rows):
        bound = min(bound, min(r.df for r in rows if r.required))
    restriction = None
    if bound > CANDIDATE_BOUND:
        essential, total = [], 0
        for r in rows:  # rarest first
            if essential and total + r.df > CANDIDATE_BOUND:
                break
            essential.append(r.lexeme)
            total += r.df
        restriction = " | ".join(map(_lexeme, essential))
    return _Plan(lexemes, idfs, tokens / docs if docs else 1.0, restriction)


class PostgresKeywordIndex:
    """The KeywordIndex contract on PostgreSQL full-text search."""

    def create(self, conn: Connection) -> None:
        """Create the configuration, columns, index, statistics and triggers; backfill what is behind."""
        create_schema(conn)

    def _scored(self, conn: Connection, query: Query, title_weight: float) -> Select | None:
        """(id, published, score) of every match, or None when nothing is positive."""
        expression = to_tsquery_text(query)
        if expression is None:
            return None
        plan = _plan(conn, query)
        matches = (
            select(
                ArticleRow.id.label("id"),
                ArticleRow.published_at.label("published"),
                SEARCH_VECTOR.label("vector"),
                SEARCH_LENGTH.label("length"),
            )
            .where(_matches(expression, "ts_query"), *article_filters(query))
            .cte("matches")
        )
        entries = func.unnest(matches.c.vector).table_valued("lexeme", "positions", "weights").lateral("entry")
        terms = (
            func.unnest(
                bindparam("ts_lexemes", plan.lexemes, type_=ARRAY(Text)),
                bindparam("ts_idfs", plan.idfs, type_=ARRAY(Float)),
            )
            .table_valued("lexeme", "idf")
            .render_derived("terms")
        )
        in_title = func.cardinality(func.array_positions(entries.c.weights, literal("A", Text)))
        tf = func.cardinality(entries.c.positions) + (float(title_weight) - 1.0) * in_title
        norm = K1 * (1 - B + B * matches.c.length / float(plan.avgdl or 1.0))
        score = func.sum(terms.c.idf * tf * (K1 + 1) / (tf + norm)).label("score")
        return (
            select(matches.c.id, matches.c.published, score)
            .select_from(matches.join(entries, true()).join(terms, terms.c.lexeme == entries.c.lexeme))
            .group_by(matches.c.id, matches.c.published)
        )

    def rank(self, conn: Connection, query: Query, limit: int, title_weight: float) -> list[tuple[int, float]]:
        """The best `limit` (article id, BM25) over title and body, best first."""
        scored = self._scored(conn, query, title_weight)
        if scored is None:
            return []
        inner = scored.subquery()
        stmt = select(inner.c.id, inner.c.score).order_by(inner.c.score.desc(), inner.c.id).limit(limit)
        return [(int(r.id), float(r.score)) for r in conn.execute(stmt)]

    def page(
        self, conn: Connection, query: Query, *, sort: str, limit: int, offset: int, title_weight: float
    ) -> list[tuple[int, float, int]]:
        """One page over all matches: by relevance, or by date with each match's relevance rank kept."""
        scored = self._scored(conn, query, title_weight)
        if scored is None:
            return []
        inner = scored.subquery()
        if sort == "relevance":
            stmt = (
                select(inner.c.id, inner.c.score).order_by(inner.c.score.desc(), inner.c.id).limit(limit).offset(offset)
            )
            return [
                (int(r.id), float(r.score), position) for position, r in enumerate(conn.execute(stmt), start=offset + 1)
            ]
        rank = func.row_number().over(order_by=(inner.c.score.desc(), inner.c.id)).label("rnk")
        stmt = (
            select(inner.c.id, inner.c.score, rank)
            .order_by(*date_order(inner.c.published, inner.c.id, oldest=sort == "oldest"))
            .limit(limit)
            .offset(offset)
        )
        return [(int(r.id), float(r.score), int(r.rnk)) for r in conn.execute(stmt)]

    def source_year_counts(self, conn: Connection, query: Query) -> dict[tuple[str | None, int | None], int]:
        """Matches per (source, year of publication)."""
        expression = to_tsquery_text(query)
        if expression is None:
            return {}
        year = extract("year", ArticleRow.published_at)
        stmt = (
            select(ArticleRow.source, year, func.count())
            .where(_matches(expression, "ts_query"), *article_filters(query))
            .group_by(ArticleRow.source, year)
        )
        return {(source, None if y is None else int(y)): int(n) for source, y, n in conn.execute(stmt)}

    def restriction(self, query: Query) -> ColumnElement[bool] | None:
        """Articles holding every required phrase and none of the excluded words or phrases."""
        clauses = []
        if query.phrases:
            required = to_tsquery_text(Query(phrases=query.phrases))
            if required is not None:
                clauses.append(_matches(required, "ts_require"))
        atoms = [to_tsquery_text(Query(terms=(w,))) for w in query.excluded]
        atoms += [to_tsquery_text(Query(phrases=(p,))) for p in query.excluded_phrases]
        atoms = [a for a in atoms if a]
        if atoms:
            clauses.append(not_(_matches(" | ".join(atoms), "ts_exclude")))
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else and_(*clauses)
