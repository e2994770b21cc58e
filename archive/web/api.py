"""JSON API blueprint: /api/search, /api/health (more endpoints land with the site)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from archive.web.params import search_request

api = Blueprint("api", __name__)


def searcher():
    """The process-wide Searcher built by create_app."""
    return current_app.extensions["searcher"]


def search_json():
    """Run the search described by the request's query string and return the envelope."""
    response = searcher().search(search_request(request.args))
    return jsonify({"ok": True, **response.as_dict()})


@api.get("/search")
def search():
    """Search articles: q, mode, limit, offset, sort, source, author, after, before."""
    return search_json()


@api.get("/health")
def health():
    """Liveness plus counts, model and index type."""
    stats = current_app.extensions["archive"].stats()
    return jsonify({"ok": True, "articles": stats.articles, "chunks": stats.chunks, "vectors": stats.vectors,
                    "model": stats.model, "encoder": stats.encoder, "index_type": stats.index_type})
