"""Saved searches on the site and in the API: save, list, read (what is new), delete, and the feeds."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for

from archive import limits
from archive import saved as saved_searches
from archive.errors import BadQuery
from archive.store.desk import SavedSearch
from archive.web.context import the_archive
from archive.web.feeds import atom, json_feed
from archive.web.params import search_request
from archive.web.security import require_api_key, require_form_key

saved = Blueprint("saved", __name__)

SEARCH_FIELDS = ("q", "mode", "source", "author", "after", "before")


def _described(s: SavedSearch) -> dict[str, Any]:
    """The saved search's JSON with its links."""
    return {
        **s.as_dict(),
        "search_url": url_for("pages.search_page", **saved_searches.search_params(s)),
        "page_url": url_for("saved.page", key=s.id),
        "atom_url": url_for("saved.api_atom", key=s.id),
        "json_feed_url": url_for("saved.api_json_feed", key=s.id),
    }


def _save(fields: Any) -> SavedSearch:
    """Validate the search like /api/search does (a 400 names the field) and save it."""
    if not isinstance(fields, dict):
        raise BadQuery("request body must be a JSON object: name, q, mode, source, author, after, before", param="body")
    wrong = [k for k in ("name", *SEARCH_FIELDS) if fields.get(k) is not None and not isinstance(fields[k], str)]
    if wrong:
        raise BadQuery(f"{wrong[0]} must be a string", param=wrong[0])
    unknown = [k for k in fields if k not in ("name", *SEARCH_FIELDS)]
    if unknown:
        raise BadQuery(
            f"unknown field {unknown[0][:40]!r}; valid fields: name, {', '.join(SEARCH_FIELDS)}", param="body"
        )
    # The fields as /api/search reads its parameters: an empty filter is no filter, an empty mode a 400.
    args = {k: fields[k] for k in SEARCH_FIELDS if fields.get(k) is not None}
    return saved_searches.save_search(the_archive(), fields.get("name"), search_request(args))


# -- API --------------------------------------------------------------------------------------


@saved.get("/api/saved")
def api_list() -> Response:
    """Every saved search with its counts of alerts (all and new)."""
    return jsonify({"ok": True, "saved": [_described(s) for s in saved_searches.list_saved(the_archive())]})


@saved.post("/api/saved")
def api_create() -> tuple[Response, int]:
    """Save a search (API key required)."""
    require_api_key()
    try:
        body = json.loads(request.get_data(cache=False) or b"null")
    except (ValueError, RecursionError):
        raise BadQuery("request body is not valid JSON", param="body") from None
    s = _save(body)
    return jsonify({"ok": True, "saved": _described(s)}), 201


@saved.get("/api/saved/<key>")
def api_get(key: str) -> Response:
    """A saved search with its newest alerts (`new`: since its page was last seen)."""
    archive = the_archive()
    s = saved_searches.get_saved(archive, key)
    alerts = saved_searches.alerts_of(archive, s)
    return jsonify({"ok": True, "saved": _described(s), "alerts": [a.as_dict() for a in alerts]})


@saved.delete("/api/saved/<key>")
def api_delete(key: str) -> Response:
    """Delete a saved search with its alerts (API key required)."""
    require_api_key()
    s = saved_searches.delete_saved(the_archive(), key)
    return jsonify({"ok": True, "deleted": {"id": s.id, "name": s.name}})


@saved.post("/api/saved/<key>/seen")
def api_seen(key: str) -> Response:
    """Mark every alert of a saved search as seen (API key required)."""
    require_api_key()
    archive = the_archive()
    s = saved_searches.get_saved(archive, key)
    saved_searches.mark_seen(archive, s, saved_searches.alerts_of(archive, s, limit=1))
    return jsonify({"ok": True, "saved": _described(saved_searches.get_saved(archive, s.id))})


@saved.get("/api/saved/<key>/atom")
def api_atom(key: str) -> Response:
    """The saved search's Atom feed: its newest alerts."""
    archive = the_archive()
    s = saved_searches.get_saved(archive, key)
    body = atom(s, saved_searches.alerts_of(archive, s, limit=limits.FEED_ENTRIES))
    return Response(body, mimetype="application/atom+xml")


@saved.get("/api/saved/<key>/feed.json")
def api_json_feed(key: str) -> Response:
    """The saved search's JSON Feed 1.1: its newest alerts."""
    archive = the_archive()
    s = saved_searches.get_saved(archive, key)
    body = json_feed(s, saved_searches.alerts_of(archive, s, limit=limits.FEED_ENTRIES))
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/feed+json")


# -- pages ------------------------------------------------------------------------------------


@saved.get("/saved")
def index() -> str:
    """The saved searches, with what is new in each."""
    return render_template("saved_list.html", searches=saved_searches.list_saved(the_archive()))


@saved.post("/saved")
def create() -> Response:
    """The search page's "Save this search" form (with the API key)."""
    require_form_key()
    s = _save({k: request.form.get(k) for k in ("name", *SEARCH_FIELDS) if k in request.form})
    return redirect(url_for("saved.page", key=s.id), code=303)  # type: ignore[return-value]


@saved.get("/saved/<key>")
def page(key: str) -> str:
    """What is new since the page was last seen, then the earlier alerts; viewing it marks them seen."""
    archive = the_archive()
    s = saved_searches.get_saved(archive, key)
    alerts = saved_searches.alerts_of(archive, s)
    saved_searches.mark_seen(archive, s, alerts)
    return render_template(
        "saved.html",
        s=s,
        new=[a for a in alerts if a.new],
        earlier=[a for a in alerts if not a.new],
        search_href=url_for("pages.search_page", **saved_searches.search_params(s)),
    )


@saved.post("/saved/<key>/delete")
def delete(key: str) -> Response:
    """The delete button of the list (with the API key)."""
    require_form_key()
    saved_searches.delete_saved(the_archive(), key)
    return redirect(url_for("saved.index"), code=303)  # type: ignore[return-value]
