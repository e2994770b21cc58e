"""The query's field filters, the date order, the publication day and the story fold as SQL over `articles`
(any dialect)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, Subquery, func, literal, select

from archive.query import Query
from archive.store.models import ArticleRow, LabelRow, SignatureRow


def article_filters(query: Query) -> list[ColumnElement[bool]]:
    """source (case-insensitive equality), author (case-insensitive substring), after (inclusive), before
    (exclusive), and each label (the article has it; labels are stored lower-cased)."""
    clauses: list[ColumnElement[bool]] = []
    # NUL never occurs in a stored value (readers drop control characters) and PostgreSQL refuses it in a
    # parameter: it is dropped from the filter.
    source = query.source.replace("\x00", "") if query.source else query.source
    author = query.author.replace("\x00", "") if query.author else query.author
    if source:
        clauses.append(func.lower(ArticleRow.source) == func.lower(literal(source)))
    if author:
        escaped = author.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append(func.lower(ArticleRow.author).like(func.lower(literal(f"%{escaped}%")), escape="\\"))
    if query.after:
        clauses.append(ArticleRow.published_at >= datetime.combine(query.after, time.min))
    if query.before:
        clauses.append(ArticleRow.published_at < datetime.combine(query.before, time.min))
    for field, value in query.labels:
        labelled = select(LabelRow.article_id).where(
            LabelRow.field == field, LabelRow.value == value.replace("\x00", "")
        )
        clauses.append(ArticleRow.id.in_(labelled))
    return clauses


def date_order(
    published: SQLColumnExpression[datetime | None], tiebreak: SQLColumnExpression[Any], *, oldest: bool
) -> tuple:
    """ORDER BY terms: undated last either way, then the date and the tiebreak in one direction."""
    if oldest:
        return published.is_(None), published.asc(), tiebreak.asc()
    return published.is_(None), published.desc(), tiebreak.desc()


def publication_day() -> ColumnElement[Any]:
    """The UTC day of `published_at` (NULL when undated): the unit of the date histogram."""
    return func.date(ArticleRow.published_at)


def as_day(value: Any) -> date | None:
    """A `publication_day()` value as a date: SQLite answers 'YYYY-MM-DD' text, other dialects a date."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def sort_order(sort: str) -> Callable[[Subquery], tuple]:
    """The ORDER BY terms of a result order over a subquery with columns id, published and (relevance) score:
    the order a page lists matches in (best score first, ties by id; or `date_order`)."""
    if sort == "relevance":
        return lambda rows: (rows.c.score.desc(), rows.c.id)
    return lambda rows: date_order(rows.c.published, rows.c.id, oldest=sort == "oldest")


def not_folded(grouped: Select, order: Callable[[Subquery], tuple]) -> ColumnElement[bool]:
    """A condition on `articles.id`: the article is not a folded copy, i.e. no earlier version of its story
    (in `order`) is among `grouped` (the matches that have a story: columns id, story, published[, score]).

    Counting the matches that pass it counts stories, each under its first version's source and day: what
    folding the whole ranked list gives (search/collapse.py), without ranking the matches that have no copies.
    An article without a signature row, or without a story, is its own story."""
    rows = grouped.where(SignatureRow.story_id.is_not(None)).subquery("grouped")  # `grouped` joins SignatureRow
    position = func.row_number().over(partition_by=rows.c.story, order_by=order(rows)).label("position")
    ranked = select(rows.c.id, position).subquery("positioned")
    return ArticleRow.id.not_in(select(ranked.c.id).where(ranked.c.position > 1))
