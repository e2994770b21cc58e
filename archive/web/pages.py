"""HTML pages blueprint: the search page (minimal until the site issue lands)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from archive.web.api import search_json, searcher
from archive.web.errors import wants_json
from archive.web.params import search_request

pages = Blueprint("pages", __name__)


@pages.get("/")
@pages.get("/search")
def search_page():
    """Search box and results; answers JSON to API clients (Accept: application/json or ?format=json)."""
    if request.path == "/search" and wants_json():
        return search_json()
    q = request.args.get("q", "")
    response = searcher().search(search_request(request.args)) if q.strip() else None
    return render_template("search.html", q=q, response=response)
