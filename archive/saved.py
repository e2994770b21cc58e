"""Saved searches for the site, the API and the CLI: save (validated like a search), list, read, delete.

Alerts are recorded by the write path (`archive.write.alerts`); this module reads them back:
the page's "new since last seen" and the feeds' newest entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError

from archive import limits
from archive.archive import Archive, read_only
from archive.dates import iso_utc
from archive.errors import ArchiveError, BadQuery, NotFound
from archive.search import SearchRequest
from archive.store import desk
from archive.store.desk import SavedSearch


@dataclass(frozen=True)
class Alert:
    """A new article that matched a saved search."""

    alert_id: int
    article_id: int
    uid: str
    title: str
    source: str | None
    author: str | None
    url: str | None
    published_at: str | None
    alerted_at: str
    score: float | None
    summary: str
    new: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "alert_id": self.alert_id,
            "id": self.article_id,
            "uid": self.uid,
            "title": self.title,
            "source": self.source,
            "author": self.author,
            "url": self.url,
            "published_at": self.published_at,
            "alerted_at": self.alerted_at,
            "score": self.score,
            "summary": self.summary,
            "new": self.new,
        }


SUMMARY_CHARS = 300


def summary(body: str, limit: int = SUMMARY_CHARS) -> str:
    """The body's first words, up to `limit` characters, cut at a word."""
    text = " ".join(body.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(",;:") + " ..."


def check_name(name: str | None) -> str:
    """A saved search's or batch's name: trimmed, 1..SAVED_NAME_CHARS characters, no control characters."""
    name = " ".join((name or "").split())
    if not name:
        raise BadQuery("name is required: the saved search's name", param="name")
    if len(name) > limits.SAVED_NAME_CHARS:
        raise BadQuery(f"name is longer than {limits.SAVED_NAME_CHARS} characters", param="name")
    if any(ord(c) < 32 for c in name):
        raise BadQuery("name holds control characters", param="name")
    return name


def save_search(archive: Archive, name: str | None, request: SearchRequest) -> SavedSearch:
    """Save a search under a unique name; it alerts on articles stored from now on."""
    if archive.read_only:
        raise read_only(archive.index_dir)
    name = check_name(name)
    req = request.validated()
    if not req.q.strip() and not req.query().has_filters:
        raise BadQuery("q is empty: a saved search needs words or a filter", param="q")
    req.query()  # a malformed filter typed in q is a 400 now, not a silent non-match later
    fields = {k: getattr(req, k) for k in desk.SAVED_FIELDS}
    try:
        with archive.engine.begin() as conn:
            if desk.name_taken(conn, name):
                raise ArchiveError(f"a saved search is already named {name!r}", status=409, param="name")
            saved_id = desk.add_saved(conn, name, fields)
    except IntegrityError:
        raise ArchiveError(f"a saved search is already named {name!r}", status=409, param="name") from None
    return get_saved(archive, saved_id)


def list_saved(archive: Archive) -> list[SavedSearch]:
    """Every saved search with its alert counts, by name."""
    with archive.engine.connect() as conn:
        return desk.list_saved(conn)


def get_saved(archive: Archive, key: str | int) -> SavedSearch:
    """A saved search by id or name; NotFound otherwise."""
    with archive.engine.connect() as conn:
        saved = desk.find_saved(conn, key)
    if saved is None:
        raise NotFound(f"no saved search with id or name {str(key)[:80]!r}")
    return saved


def delete_saved(archive: Archive, key: str | int) -> SavedSearch:
    """Delete a saved search (by id or name) with its alerts; returns what was deleted."""
    if archive.read_only:
        raise read_only(archive.index_dir)
    saved = get_saved(archive, key)
    with archive.engine.begin() as conn:
        desk.delete_saved(conn, saved.id)
    return saved


def alerts_of(archive: Archive, saved: SavedSearch, limit: int = limits.ALERTS_ON_PAGE) -> list[Alert]:
    """The newest `limit` alerts, newest first; `new` marks those since the page was last seen."""
    with archive.engine.connect() as conn:
        rows = desk.alert_rows(conn, saved.id, limit)
    return [
        Alert(
            alert_id=int(r["alert_id"]),
            article_id=int(r["id"]),
            uid=r["uid"],
            title=r["title"] or r["uid"],
            source=r["source"],
            author=r["author"],
            url=r["url"],
            published_at=iso_utc(r["published_at"]),
            alerted_at=iso_utc(r["alerted_at"]) or "",
            score=r["score"],
            summary=summary(r["body"] or ""),
            new=int(r["alert_id"]) > saved.seen_alert_id,
        )
        for r in rows
    ]


def mark_seen(archive: Archive, saved: SavedSearch, alerts: list[Alert]) -> None:
    """The saved search's page has shown these alerts: they are no longer new."""
    if alerts and not archive.read_only:
        with archive.engine.begin() as conn:
            desk.mark_seen(conn, saved.id, max(a.alert_id for a in alerts))


def search_request_of(saved: SavedSearch) -> SearchRequest:
    """The saved search as a search request (first page, default sort)."""
    return SearchRequest(
        q=saved.q, mode=saved.mode, source=saved.source, author=saved.author, after=saved.after, before=saved.before
    )


def search_params(saved: SavedSearch) -> dict[str, str]:
    """The saved search as /search parameters (defaults left out)."""
    params: dict[str, Any] = {"q": saved.q, "mode": saved.mode if saved.mode != limits.DEFAULT_MODE else None}
    for k in ("source", "author", "after", "before"):
        v = getattr(saved, k)
        params[k] = v.isoformat() if isinstance(v, date) else v
    return {k: str(v) for k, v in params.items() if v not in (None, "")}
