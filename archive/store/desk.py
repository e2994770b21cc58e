"""Saved searches and their alerts: the tables and every statement on them.

A saved search is a search request under a name (query, mode, filters). Alerts are the articles
that arrived after it was saved and match it (`archive.write.alerts` decides; this module only
stores): one row per (saved search, article), never repeated. `seen_alert_id` is how far the
saved search's page has been read ("new since last seen" = alerts with a larger id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    update,
)

from archive.documents import DISPLAY_FIELDS
from archive.store.models import ArticleRow, Base

NAME_CHARS = 200

saved_searches = Table(
    "saved_searches",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(NAME_CHARS), nullable=False, unique=True),
    Column("q", Text, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("source", String(256)),
    Column("author", String(512)),
    Column("after", Date),
    Column("before", Date),
    Column("created_at", DateTime(), nullable=False),
    Column("since_article_id", Integer, nullable=False),  # alerts only for articles with a larger id
    Column("seen_alert_id", Integer, nullable=False, default=0),  # the page was last read up to this alert
    sqlite_autoincrement=True,
)

alerts = Table(
    "alerts",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("saved_search_id", Integer, ForeignKey("saved_searches.id", ondelete="CASCADE"), nullable=False),
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    Column("score", Float),  # cosine of the best new passage (semantic saved searches), else NULL
    Column("created_at", DateTime(), nullable=False),
    Index("ix_alerts_search_article", "saved_search_id", "article_id", unique=True),
    sqlite_autoincrement=True,
)

SAVED_FIELDS = ("q", "mode", "source", "author", "after", "before")
# The id range of the articles an alert evaluation asks about, bound at execution (`matching_articles`):
# conditions built with it (KeywordIndex.satisfying(within=AMONG)) are built once and reused for every step.
AMONG = (bindparam("among_low", type_=Integer), bindparam("among_high", type_=Integer))


@dataclass(frozen=True)
class SavedSearch:
    """One saved search as stored."""

    id: int
    name: str
    q: str
    mode: str
    source: str | None
    author: str | None
    after: date | None
    before: date | None
    created_at: datetime
    since_article_id: int
    seen_alert_id: int
    alerts: int = 0
    new: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (dates as ISO strings, created_at in UTC)."""
        return {
            "id": self.id,
            "name": self.name,
            "q": self.q,
            "mode": self.mode,
            "source": self.source,
            "author": self.author,
            "after": self.after.isoformat() if self.after else None,
            "before": self.before.isoformat() if self.before else None,
            "created_at": self.created_at.replace(tzinfo=UTC).isoformat(),
            "alerts": self.alerts,
            "new": self.new,
        }


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _counts() -> Any:
    """Per saved search: all alerts and the unseen ones."""
    a = alerts
    unseen = func.sum(case((a.c.id > saved_searches.c.seen_alert_id, 1), else_=0))
    return (
        select(a.c.saved_search_id, func.count().label("n"), unseen.label("new"))
        .join(saved_searches, saved_searches.c.id == a.c.saved_search_id)
        .group_by(a.c.saved_search_id)
        .subquery()
    )


def _saved(where: ColumnElement[bool] | None) -> Any:
    counts = _counts()
    stmt = select(
        saved_searches, func.coalesce(counts.c.n, 0).label("n_alerts"), func.coalesce(counts.c.new, 0).label("n_new")
    ).outerjoin(counts, counts.c.saved_search_id == saved_searches.c.id)
    return stmt.where(where) if where is not None else stmt


def _as_saved(row: Any) -> SavedSearch:
    m = row._mapping
    return SavedSearch(
        **{k: m[k] for k in ("id", "name", "q", "mode", "source", "author", "after", "before", "created_at")},
        since_article_id=int(m["since_article_id"]),
        seen_alert_id=int(m["seen_alert_id"]),
        alerts=int(m["n_alerts"]),
        new=int(m["n_new"]),
    )


def list_saved(conn: Connection) -> list[SavedSearch]:
    """Every saved search, by name, with its alert counts."""
    return [_as_saved(r) for r in conn.execute(_saved(None).order_by(saved_searches.c.name, saved_searches.c.id))]


def find_saved(conn: Connection, key: str | int) -> SavedSearch | None:
    """A saved search by id (an int, or a string of digits that is no name) or by name."""
    if isinstance(key, str):
        row = conn.execute(_saved(saved_searches.c.name == key)).first()
        if row is not None or not (key.isascii() and key.isdigit() and len(key) < 10):
            return _as_saved(row) if row is not None else None
        key = int(key)
    row = conn.execute(_saved(saved_searches.c.id == key)).first()
    return _as_saved(row) if row is not None else None


def add_saved(conn: Connection, name: str, fields: dict[str, Any]) -> int:
    """Store a saved search; its alerts start after the newest article stored now. Caller commits."""
    since = conn.execute(select(func.coalesce(func.max(ArticleRow.id), 0))).scalar_one()
    values = {k: fields.get(k) for k in SAVED_FIELDS}
    result = conn.execute(
        insert(saved_searches).values(
            name=name, created_at=_now(), since_article_id=int(since), seen_alert_id=0, **values
        )
    )
    return int(result.inserted_primary_key[0])


def name_taken(conn: Connection, name: str) -> bool:
    """True when a saved search has this name."""
    return conn.execute(select(saved_searches.c.id).where(saved_searches.c.name == name)).first() is not None


def delete_saved(conn: Connection, saved_id: int) -> bool:
    """Delete a saved search with its alerts; False when there was none. Caller commits."""
    conn.execute(delete(alerts).where(alerts.c.saved_search_id == saved_id))
    return conn.execute(delete(saved_searches).where(saved_searches.c.id == saved_id)).rowcount > 0


def mark_seen(conn: Connection, saved_id: int, alert_id: int) -> None:
    """The saved search's page has been read up to `alert_id` (never moves back). Caller commits."""
    conn.execute(
        update(saved_searches)
        .where(saved_searches.c.id == saved_id, saved_searches.c.seen_alert_id < alert_id)
        .values(seen_alert_id=alert_id)
    )


def alert_rows(conn: Connection, saved_id: int, limit: int, after_alert: int = 0) -> list[dict[str, Any]]:
    """The newest `limit` alerts of a saved search (newer than `after_alert`), newest first, with their articles."""
    a = alerts
    stmt = (
        select(
            a.c.id.label("alert_id"),
            a.c.score,
            a.c.created_at.label("alerted_at"),
            *(getattr(ArticleRow, f).label(f) for f in (*DISPLAY_FIELDS, "published_at")),
            ArticleRow.body,
        )
        .join(ArticleRow, ArticleRow.id == a.c.article_id)
        .where(a.c.saved_search_id == saved_id, a.c.id > after_alert)
        .order_by(a.c.id.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(stmt)]


def saved_for_alerts(conn: Connection) -> list[SavedSearch]:
    """Every saved search, plain (no counts): what an alert evaluation reads once per batch."""
    return [
        SavedSearch(
            **{k: r._mapping[k] for k in ("id", "name", *SAVED_FIELDS, "created_at", "since_article_id")},
            seen_alert_id=int(r.seen_alert_id),
        )
        for r in conn.execute(select(saved_searches).order_by(saved_searches.c.id))
    ]


def matching_articles(
    conn: Connection, among: Sequence[int], after_id: int, conditions: Sequence[ColumnElement[bool]]
) -> list[int]:
    """Ids among `among` above `after_id` satisfying every condition: one statement."""
    if not among:
        return []
    stmt = select(ArticleRow.id).where(ArticleRow.id.in_(list(among)), ArticleRow.id > after_id, *conditions)
    bounds = {"among_low": min(among), "among_high": max(among)}
    return [int(i) for i in conn.scalars(stmt, bounds)]


def add_alerts(conn: Connection, found: Sequence[tuple[int, int, float | None]]) -> int:
    """Record (saved search id, article id, score) alerts not recorded before; returns how many. Caller commits."""
    if not found:
        return 0
    searches = {s for s, _, _ in found}
    articles = {a for _, a, _ in found}
    stmt = select(alerts.c.saved_search_id, alerts.c.article_id).where(
        alerts.c.saved_search_id.in_(searches), alerts.c.article_id.in_(articles)
    )
    known = {(int(s), int(a)) for s, a in conn.execute(stmt)}
    now = _now()
    rows, seen = [], set(known)
    for s, a, score in found:
        if (s, a) not in seen:
            seen.add((s, a))
            rows.append({"saved_search_id": s, "article_id": a, "score": score, "created_at": now})
    if rows:
        conn.execute(insert(alerts), rows)
    return len(rows)
