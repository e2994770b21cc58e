"""What every view needs: the process-wide archive and searcher built by `create_app`, and the search JSON."""

from __future__ import annotations

from flask import Response, current_app, jsonify, request

from archive.archive import Archive
from archive.config import Settings
from archive.search import Searcher
from archive.web.params import search_request


def the_archive() -> Archive:
    """The process-wide Archive built by create_app."""
    return current_app.extensions["archive"]


def searcher() -> Searcher:
    """The process-wide Searcher built by create_app."""
    return current_app.extensions["searcher"]


def web_settings() -> Settings:
    """The settings deciding the web behaviour (API key, rate limit, body limit)."""
    return current_app.extensions["settings"]


def search_json() -> Response:
    """Run the search described by the request's query string and return the JSON envelope."""
    response = searcher().search(search_request(request.args))
    return jsonify({"ok": True, **response.as_dict()})
