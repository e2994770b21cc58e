"""JSON API blueprint: search and its export, articles (read, related, cite, add, delete), story threads, health,
OpenAPI."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.routing import PathConverter

from archive.documents import DATE_RAW, Article, ReadFailure
from archive.errors import ArchiveError, BadQuery
from archive.limits import MAX_POST_ARTICLES
from archive.reading import load_article, load_thread
from archive.web.context import search_json, searcher, the_archive, web_settings, write_slot
from archive.web.params import related_limit
from archive.web.security import require_api_key

if TYPE_CHECKING:
    from archive.write import IngestReport

api = Blueprint("api", __name__)


class ArticleKey(PathConverter):
    """An article's id or uid in a path (slashes allowed), except one ending in `/related` or `/cite`: those are
    the related-coverage and citation routes.

    So /api/articles/<id>/related is matched by one rule only, and other methods on it are a 405
    allowing GET, HEAD and OPTIONS, never a DELETE of an article named "<id>/related" (an uid
    ending so is addressed by its numeric id).
    """

    regex = r"[^/].*?(?<!/related)(?<!/cite)"


api.record_once(lambda state: state.app.url_map.converters.setdefault("article_key", ArticleKey))


@api.get("/search")
def search() -> Response:
    """Search articles: q, mode, limit, offset, sort, source, author, after, before."""
    return search_json()


@api.get("/search/export")
def export() -> Response:
    """The whole result set of a search (at most ARCHIVE_EXPORT_MAX rows) as CSV or JSON Lines, streamed."""
    from archive.web.downloads import export_response

    return export_response()


@api.get("/articles/<article_key:key>")
def get_article(key: str) -> Response:
    """One article by numeric id or uid: metadata, body and passage boundaries."""
    return jsonify({"ok": True, "article": load_article(the_archive(), key).as_dict()})


@api.get("/threads/<key>")
def get_thread(key: str) -> Response:
    """One story thread: its articles, oldest first."""
    return jsonify({"ok": True, "thread": load_thread(the_archive(), key).as_dict()})


@api.get("/articles/<path:key>/related")
def related(key: str) -> Response:
    """Nearest other articles (related coverage) of one article."""
    article = load_article(the_archive(), key)
    items = searcher().related(article.uid, limit=related_limit(request.args))
    return jsonify(
        {
            "ok": True,
            "article": {"id": article.id, "uid": article.uid, "title": article.title},
            "related": [item.as_dict() for item in items],
        }
    )


@api.get("/articles/<path:key>/cite")
def cite(key: str) -> Response:
    """A citation of one article (or of its passage p): RIS, BibTeX or CSL-JSON."""
    from archive.web.downloads import cite_response

    return cite_response(load_article(the_archive(), key))


@api.post("/articles")
def add_articles() -> tuple[Response, int]:
    """Ingest one article, a list, or {"articles": [...]} (API key required); answers the ingest summary."""
    require_api_key()
    records = _records(_json_body())
    items = [_to_article(record, f"articles[{i}]") for i, record in enumerate(records)]
    from archive.write import ingest

    with write_slot():
        report = ingest(the_archive(), items)
    body = {**report.as_dict(), "items": _item_results(items, report)}
    if report.added == 0 and report.updated == 0 and report.duplicates == 0:
        return jsonify({"ok": False, "error": "no article could be stored; see failures", "status": 422, **body}), 422
    return jsonify({"ok": True, **body}), 201 if report.added else 200


@api.delete("/articles/<article_key:key>")
def delete(key: str) -> Response:
    """Delete an article with its passages and vectors (API key required)."""
    require_api_key()
    from archive.write import delete_article

    article = load_article(the_archive(), key)  # 404 before taking the write lock
    with write_slot():
        uid = delete_article(the_archive(), article.uid)
    return jsonify({"ok": True, "deleted": {"id": article.id, "uid": uid}})


@api.get("/health")
def health() -> Response:
    """Liveness plus counts, model, index type and the chunks still waiting for a vector."""
    stats = the_archive().stats()
    return jsonify(
        {
            "ok": True,
            "articles": stats.articles,
            "chunks": stats.chunks,
            "vectors": stats.vectors,
            "model": stats.model,
            "encoder": stats.encoder,
            "index_type": stats.index_type,
            "pending_vectors": stats.pending_vectors,
        }
    )


@api.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of this API."""
    from archive.web.openapi import openapi_document

    return jsonify(openapi_document(web_settings().labels))


def _json_body() -> Any:
    """The request body parsed as JSON (400 naming `body` when it is not)."""
    raw = request.get_data(cache=False)  # past MAX_CONTENT_LENGTH this raises 413
    if not raw.strip():
        raise BadQuery('request body is empty: send a JSON article, a list, or {"articles": [...]}', param="body")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        detail = (
            f" ({exc.msg} at line {exc.lineno} column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        )
        raise BadQuery(f"request body is not valid JSON{detail}", param="body") from None


def _records(data: Any) -> list[Any]:
    """The list of article records in a body: an object, a list, or {"articles": [...]}."""
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]
    elif isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise BadQuery('request body must be an article object, a list of them, or {"articles": [...]}', param="body")
    if not data:
        raise BadQuery("no articles in the request body", param="body")
    if len(data) > MAX_POST_ARTICLES:
        raise BadQuery(
            f"at most {MAX_POST_ARTICLES} articles per request (use `archive ingest` for bulk loads)", param="body"
        )
    return data


def _to_article(record: Any, origin: str) -> Article | ReadFailure:
    from archive.readers import article_from_record

    if not isinstance(record, dict):
        return ReadFailure(origin, f"expected a JSON object, got {type(record).__name__}")
    wrong = _mistyped_fields(record)
    if wrong:
        return ReadFailure(origin, "wrongly typed field(s), see the ArticleInput schema: " + ", ".join(wrong))
    try:
        return article_from_record(record, origin)
    except ArchiveError as exc:
        return ReadFailure(origin, exc.message)


# The documented fields of an ArticleInput (archive/web/schemas_write.py) and the JSON types each accepts.
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "title": (str,),
    "text": (str,),
    "source": (str,),
    "date": (str,),
    "url": (str,),
    "language": (str,),
    "author": (str, list),
}


def _mistyped_fields(record: dict[str, Any]) -> list[str]:
    """Documented fields holding another JSON type than the schema names (e.g. `language: {}`), as 'name (type)'."""
    wrong = ["id (empty)"] if record.get("id") == "" else []
    for name, types in _FIELD_TYPES.items():
        value = record.get(name)
        if value is None:
            continue
        if not isinstance(value, types) or (isinstance(value, list) and not all(isinstance(v, str) for v in value)):
            wrong.append(f"{name} ({type(value).__name__})")
    return wrong


def _item_results(items: list[Article | ReadFailure], report: IngestReport) -> list[dict[str, Any]]:
    """Per-record outcome, in request order: stored (added or updated), duplicate, or failed with the reason."""
    from archive.write import content_hash, derive_uid

    failed = {f.origin: f.reason for f in report.failed}
    duplicate = dict(report.duplicate_of)
    undated = dict(report.undated)
    out = []
    for item in items:
        if isinstance(item, ReadFailure) or item.origin in failed:
            reason = item.reason if isinstance(item, ReadFailure) else failed[item.origin]
            out.append({"origin": item.origin, "result": "failed", "reason": reason})
        elif item.origin in duplicate:
            out.append({"origin": item.origin, "result": "duplicate", "duplicate_of": duplicate[item.origin]})
        else:
            out.append({"origin": item.origin, "result": "stored", "uid": derive_uid(item, content_hash(item))})
        if item.origin in undated:
            out[-1]["warnings"] = [
                f"published_at {undated[item.origin][:80]!r} is not a date the archive reads: stored without a date "
                f"(the text is kept as extra.{DATE_RAW}); send an ISO 8601 date such as 2026-03-01"
            ]
    return out
