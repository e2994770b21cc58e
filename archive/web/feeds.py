"""A saved search's feeds: Atom (RFC 4287, written by feedgen) and JSON Feed 1.1.

Entries are the saved search's newest alerts (`limits.FEED_ENTRIES`), newest first: one per new
article that matched. An entry's id is a tag URI of the alert (stable: a reader never sees an
entry twice), its link the article page with the query highlighted, its dates the article's
publication (published) and the alert's time (updated). Reading a feed does not mark anything
seen: readers keep their own state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from feedgen.feed import FeedGenerator
from flask import request, url_for

from archive.saved import Alert
from archive.store.desk import SavedSearch

GENERATOR = "News Archive"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


def _tag(saved: SavedSearch, suffix: str = "") -> str:
    host = request.host.split(":")[0] or "localhost"
    return f"tag:{host},{saved.created_at:%Y-%m-%d}:saved-search/{saved.id}{suffix}"


def _aware(iso: str | None) -> datetime | None:
    if not iso:
        return None
    value = datetime.fromisoformat(iso)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _article_url(saved: SavedSearch, alert: Alert) -> str:
    return url_for("pages.article_page", key=alert.article_id, q=saved.q, _external=True)


def _updated(saved: SavedSearch, alerts: list[Alert]) -> datetime:
    return _aware(alerts[0].alerted_at) if alerts else saved.created_at.replace(tzinfo=UTC)  # type: ignore[return-value]


def atom(saved: SavedSearch, alerts: list[Alert]) -> bytes:
    """The Atom document."""
    fg = FeedGenerator()
    fg.id(_tag(saved))
    fg.title(f"{saved.name}: new articles")
    fg.subtitle(f"Articles matching the saved search {saved.q!r} ({saved.mode}) as they arrive in the archive.")
    fg.author({"name": GENERATOR})
    fg.link(href=url_for("saved.page", key=saved.id, _external=True), rel="alternate", type="text/html")
    fg.link(href=request.base_url, rel="self", type="application/atom+xml")
    fg.generator(GENERATOR)
    fg.updated(_updated(saved, alerts))
    for alert in reversed(alerts):  # feedgen prepends each entry: add oldest first to list newest first
        entry = fg.add_entry()
        entry.id(_tag(saved, f"/alert/{alert.alert_id}"))
        entry.title(alert.title)
        entry.link(href=_article_url(saved, alert), rel="alternate", type="text/html")
        if alert.url:
            entry.link(href=alert.url, rel="related")
        entry.summary(alert.summary)
        entry.updated(_aware(alert.alerted_at))
        published = _aware(alert.published_at)
        if published:
            entry.published(published)
        names = [n.strip() for n in (alert.author or "").split(";") if n.strip()]
        for name in names:
            entry.author({"name": name})
    return fg.atom_str(pretty=True)


def json_feed(saved: SavedSearch, alerts: list[Alert]) -> dict[str, Any]:
    """The JSON Feed 1.1 document."""
    items = []
    for alert in alerts:
        item: dict[str, Any] = {
            "id": _tag(saved, f"/alert/{alert.alert_id}"),
            "url": _article_url(saved, alert),
            "title": alert.title,
            "summary": alert.summary,
            "content_text": alert.summary,
            "date_modified": alert.alerted_at,
            "_archive": {
                "article_id": alert.article_id,
                "uid": alert.uid,
                "source": alert.source,
                "score": alert.score,
            },
        }
        if alert.url:
            item["external_url"] = alert.url
        if alert.published_at:
            item["date_published"] = alert.published_at
        if alert.author:
            item["authors"] = [{"name": alert.author}]
        items.append(item)
    return {
        "version": JSON_FEED_VERSION,
        "title": f"{saved.name}: new articles",
        "home_page_url": url_for("saved.page", key=saved.id, _external=True),
        "feed_url": request.base_url,
        "description": f"Articles matching the saved search {saved.q!r} ({saved.mode}) as they arrive.",
        "items": items,
    }
