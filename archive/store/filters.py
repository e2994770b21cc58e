"""The query's field filters, the date order, the publication day and the story fold as SQL over `articles`
(any dialect)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, String, cast, func, literal, select

from archive.query import Query
from archive.store.models import ArticleRow, LabelRow, SignatureRow


def stored_form(value: str | None) -> str | None:
    """A filter's value as compared with stored ones: NUL never occurs in a stored value (readers drop control
    characters) and PostgreSQL refuses it in a parameter, so it is dropped."""
    return value.replace("\x00", "") if value else value


def article_filters(query: Query, articles: Any = None) -> list[ColumnElement[bool]]:
    """source (case-insensitive equality), author (case-insensitive substring), after (inclusive), before
    (exclusive), and each label (the article has it; labels are stored lower-cased), over `articles` (the
    table, or an alias of it such as `cards.CARDS`)."""
    a = (articles if articles is not None else ArticleRow.__table__).c
    clauses: list[ColumnElement[bool]] = []
    source, author = stored_form(query.source), stored_form(query.author)
    if source:
        clauses.append(func.lower(a.source) == func.lower(literal(source)))
    if author:
        escaped = author.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append(func.lower(a.author).like(func.lower(literal(f"%{escaped}%")), escape="\\"))
    if query.after or query.before:
        clauses += date_window(a.published_at, query)
    for field, value in query.labels:
        labelled = select(LabelRow.article_id).where(LabelRow.field == field, LabelRow.value == stored_form(value))
        clauses.append(a.id.in_(labelled))
    return clauses


def date_window(published: Any, query: Query, at: Callable[[datetime], Any] = lambda moment: moment) -> list[Any]:
    """The query's dates as conditions on `published`: `after` inclusive, `before` exclusive, each from midnight
    (UTC) of its day. `published` is a column (`at` the identity), or an array of `at(moment)` values (the doc
    values' microseconds: each condition is then a boolean array, and undated articles must be left out by the
    caller, as NULL passes no SQL comparison)."""
    conditions: list[Any] = []
    if query.after:
        conditions.append(published >= at(datetime.combine(query.after, time.min)))
    if query.before:
        conditions.append(published < at(datetime.combine(query.before, time.min)))
    return conditions


def date_order(
    published: SQLColumnExpression[datetime | None], tiebreak: SQLColumnExpression[Any], *, oldest: bool
) -> tuple:
    """ORDER BY terms: undated last either way, then the date and the tiebreak in one direction."""
    if oldest:
        return published.is_(None), published.asc(), tiebreak.asc()
    return published.is_(None), published.desc(), tiebreak.desc()


def publication_day(articles: Any = None) -> ColumnElement[Any]:
    """The UTC day of `published_at` (NULL when undated): the unit of the date histogram."""
    return func.date((articles if articles is not None else ArticleRow.__table__).c.published_at)


def as_day(value: Any) -> date | None:
    """A `publication_day()` value as a date: SQLite answers 'YYYY-MM-DD' text, other dialects a date."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def sort_order(sort: str) -> Callable[[Any], tuple]:
    """The ORDER BY terms of a result order over a subquery with columns id, published and (relevance) score:
    the order a page lists matches in (best score first, ties by id; or `date_order`)."""
    if sort == "relevance":
        return lambda rows: (rows.c.score.desc(), rows.c.id)
    return lambda rows: date_order(rows.c.published, rows.c.id, oldest=sort == "oldest")


def story_ids() -> Any:
    """(article_id, story_id) of the articles that have near copies, as a materialised CTE: read from the
    story index alone, so a match set joins it without reading the wide signature rows (on Reuters a join
    on `article_signatures` itself cost about as much as the count)."""
    return (
        select(SignatureRow.article_id.label("article_id"), SignatureRow.story_id.label("story_id"))
        .where(SignatureRow.story_id.is_not(None))
        .cte("stories")
        .prefix_with("MATERIALIZED")
    )


Counts = dict[tuple[str | None, date | None], int]
LabelCounts = dict[str, dict[str, int]]


def story_copies(grouped: Select, order: Callable[[Any], tuple]) -> Select:
    """The ids of the later versions of each story among a match set, in `order`: `grouped` is the match set's
    articles that have near copies, with columns id, story, published and, for a relevance order, score. Each
    story counts once, under its first version in `order`, what folding the whole ranked list gives
    (search/collapse.py): the facets then count the match set without these ids (`facet_counts`). One small
    statement (only grouped matches are ordered), read once for the two facet statements of a search."""
    rows = grouped.subquery("grouped")
    position = func.row_number().over(partition_by=rows.c.story, order_by=order(rows)).label("position")
    versions = select(rows.c.id, position).subquery("versions")
    return select(versions.c.id).where(versions.c.position > 1)


def facet_counts(matched: Select, fields: Sequence[str] | None = None) -> Select:
    """The facets of a match set as one statement: rows (0, source, day, count), or, given `fields`, for each
    label value of those fields (1, field, value, count); read them with `read_facets`. `matched` has columns
    id, source and day (to count stories, without the ids `story_copies` lists). Two statements, so a search
    runs them side by side (one statement for both measured no cheaper, run one after the other)."""
    rows = matched.subquery("matched")
    if fields is None:
        return select(
            literal(0).label("kind"), rows.c.source.label("a"), cast(rows.c.day, String).label("b"), func.count()
        ).group_by(rows.c.source, rows.c.day)
    labels = LabelRow.__table__
    # The matched ids drive (an IN list SQLite builds once), each article's labels read by primary key;
    # `field || ''` keeps the (field, value) index from driving instead (it would read every label of the
    # fields: SQLite has no statistics to know better).
    return (
        select(literal(1), labels.c.field, labels.c.value, func.count())
        .where(labels.c.article_id.in_(select(rows.c.id)), labels.c.field.concat("").in_(list(fields)))
        .group_by(labels.c.field, labels.c.value)
    )


def read_facets(rows: Iterable[Any], fields: Sequence[str] | None = None) -> tuple[Counts, LabelCounts]:
    """(counts per (source, day), counts per label value of each of `fields`) from `facet_counts` rows."""
    days: Counts = {}
    labels: LabelCounts = {f: {} for f in fields or ()}
    for kind, a, b, n in rows:
        if kind == 0:
            days[(a, as_day(b))] = int(n)
        else:
            labels[a][b] = int(n)
    return days, labels
