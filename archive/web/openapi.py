"""The OpenAPI 3.1 document of the JSON API, built from plain dicts (no Flask)."""

from __future__ import annotations

from typing import Any

from archive.limits import (
    CLAMP_CEILING,
    DEFAULT_LIMIT,
    DEFAULT_MODE,
    DEFAULT_SORT,
    MAX_LIMIT,
    MAX_OFFSET,
    MAX_POST_ARTICLES,
    MAX_QUERY_CHARS,
    MODES,
    RELATED_DEFAULT,
    RELATED_MAX,
    SORTS,
)

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str, **headers: Any) -> dict[str, Any]:
    response = _json(_ref("Error"), description)
    if headers:
        response["headers"] = headers
    return response


RATE_HEADERS = {
    "X-RateLimit-Limit": {"description": "Requests allowed per window (absent when rate limiting is off).",
                          "schema": {"type": "integer"}},
    "X-RateLimit-Remaining": {"description": "Requests left before 429.", "schema": {"type": "integer"}},
}

SEARCH_PARAMETERS: list[dict[str, Any]] = [
    {"name": "q", "in": "query", "required": False, "description":
        "Search words or a question. Quoted phrases are required, `-word` excludes, and filters may be typed "
        "inline: `source:`, `author:`, `after:YYYY-MM-DD`, `before:YYYY-MM-DD`. An empty q returns no results.",
     "schema": {"type": "string", "maxLength": MAX_QUERY_CHARS}},
    {"name": "mode", "in": "query", "description": "keyword (BM25), semantic (embeddings) or hybrid (rank fusion).",
     "schema": {"type": "string", "enum": list(MODES), "default": DEFAULT_MODE}},
    {"name": "limit", "in": "query", "description":
        f"Results per page, 1 to {MAX_LIMIT}. Values from {MAX_LIMIT + 1} to {CLAMP_CEILING} are clamped to "
        f"{MAX_LIMIT}; anything else is a 400.",
     "schema": {"type": "integer", "minimum": 1, "maximum": CLAMP_CEILING, "default": DEFAULT_LIMIT}},
    {"name": "offset", "in": "query", "description": "Results to skip (for paging).",
     "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}},
    {"name": "sort", "in": "query", "description": "relevance, newest or oldest first.",
     "schema": {"type": "string", "enum": list(SORTS), "default": DEFAULT_SORT}},
    {"name": "source", "in": "query", "description": "Only this outlet (case-insensitive exact match).",
     "schema": {"type": "string"}},
    {"name": "author", "in": "query", "description": "Only authors containing this text (case-insensitive).",
     "schema": {"type": "string"}},
    {"name": "after", "in": "query", "description": "Published on or after this day (UTC).",
     "schema": {"type": "string", "format": "date"}},
    {"name": "before", "in": "query", "description": "Published before this day (UTC, exclusive).",
     "schema": {"type": "string", "format": "date"}},
]

ARTICLE_KEY = {"name": "id", "in": "path", "required": True,
               "description": "Numeric archive id, or the article's uid (URL-encode it).",
               "schema": {"type": "string"}}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["ok", "error", "status"], "additionalProperties": True,
        "properties": {
            "ok": {"const": False},
            "error": {"type": "string", "description": "What went wrong, for humans."},
            "status": {"type": "integer", "description": "The HTTP status, repeated."},
            "param": {"type": "string", "description": "The request parameter at fault (400 only)."},
        },
    },
    "Explain": {
        "type": "object", "required": ["keyword_rank", "semantic_rank", "fused_score"],
        "properties": {
            "keyword_rank": _nullable("integer", description="Rank among keyword matches (1 = best), null if none."),
            "semantic_rank": _nullable("integer", description="Rank among the nearest in meaning, null if not among them."),
            "keyword_score": _nullable("number", description="BM25 score (higher is better)."),
            "semantic_score": _nullable("number", description="Cosine similarity of the best passage."),
            "fused_score": {"type": "number", "description": "The score results are ranked by in this mode."},
        },
    },
    "SearchResult": {
        "type": "object",
        "required": ["id", "uid", "title", "source", "author", "url", "published_at", "score", "passage",
                     "passage_html", "highlights", "chunk_seq", "passage_start", "passage_end", "explain"],
        "properties": {
            "id": {"type": "integer"}, "uid": {"type": "string"}, "title": {"type": "string"},
            "source": _nullable("string"), "author": _nullable("string"), "url": _nullable("string"),
            "published_at": _nullable("string", format="date-time"),
            "score": {"type": "number"},
            "passage": {"type": "string", "description": "The best passage, plain text."},
            "passage_html": {"type": "string", "description": "The passage HTML-escaped, query words in <mark>."},
            "highlights": {"type": "array", "description": "[start, end) of highlighted words in `passage`.",
                           "items": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}},
            "chunk_id": {"type": "integer"},
            "chunk_seq": {"type": "integer", "description": "Passage number; the article page anchors it as #passage-N."},
            "passage_start": {"type": "integer", "description": "Offset of the passage in the article body."},
            "passage_end": {"type": "integer"},
            "explain": _ref("Explain"),
        },
    },
    "Facet": {"type": "array", "items": {"type": "object", "required": ["value", "count"],
                                         "properties": {"value": {"type": "string"}, "count": {"type": "integer"}}}},
    "SearchResponse": {
        "type": "object",
        "required": ["ok", "query", "mode", "total", "limit", "offset", "sort", "results", "facets", "filters"],
        "properties": {
            "ok": {"const": True},
            "query": {"type": "string"}, "mode": {"type": "string", "enum": list(MODES)},
            "total": {"type": "integer", "description": "Matching articles (over all pages)."},
            "limit": {"type": "integer", "description": f"Page size actually used (at most {MAX_LIMIT})."},
            "offset": {"type": "integer"}, "sort": {"type": "string", "enum": list(SORTS)},
            "results": {"type": "array", "items": _ref("SearchResult")},
            "facets": {"type": "object", "description": "Counts over all matching articles.",
                       "properties": {"source": _ref("Facet"), "year": _ref("Facet")}},
            "filters": {"type": "object", "description": "Filters applied (from parameters or typed in q).",
                        "properties": {"source": _nullable("string"), "author": _nullable("string"),
                                       "after": _nullable("string", format="date"),
                                       "before": _nullable("string", format="date")}},
        },
    },
    "Article": {
        "type": "object",
        "required": ["id", "uid", "title", "source", "author", "url", "published_at", "body", "passages"],
        "properties": {
            "id": {"type": "integer"}, "uid": {"type": "string"}, "title": {"type": "string"},
            "source": _nullable("string"), "author": _nullable("string"), "url": _nullable("string"),
            "published_at": _nullable("string", format="date-time"), "language": _nullable("string"),
            "ingested_at": _nullable("string", format="date-time"),
            "extra": {"type": "object", "description": "Other fields of the source record."},
            "body": {"type": "string"},
            "passages": {"type": "array", "description": "Non-overlapping passages (the search index's chunks).",
                         "items": {"type": "object", "required": ["seq", "start", "end"],
                                   "properties": {"seq": {"type": "integer"}, "start": {"type": "integer"},
                                                  "end": {"type": "integer"}}}},
        },
    },
    "ArticleResponse": {"type": "object", "required": ["ok", "article"],
                        "properties": {"ok": {"const": True}, "article": _ref("Article")}},
    "RelatedArticle": {
        "type": "object", "required": ["id", "uid", "title", "published_at", "score"],
        "properties": {"id": {"type": "integer"}, "uid": {"type": "string"}, "title": {"type": "string"},
                       "source": _nullable("string"), "author": _nullable("string"), "url": _nullable("string"),
                       "published_at": _nullable("string", format="date-time"),
                       "score": {"type": "number", "description": "Cosine similarity (higher is closer)."},
                       "snippet": {"type": "string", "description": "The article's opening words."}},
    },
    "RelatedResponse": {
        "type": "object", "required": ["ok", "article", "related"],
        "properties": {
            "ok": {"const": True},
            "article": {"type": "object", "required": ["id", "uid", "title"],
                        "properties": {"id": {"type": "integer"}, "uid": {"type": "string"}, "title": {"type": "string"}}},
            "related": {"type": "array", "items": _ref("RelatedArticle")},
        },
    },
    "ArticleInput": {
        "type": "object", "required": ["text"], "additionalProperties": True,
        "description": "One article. Aliases are accepted as in .json files: body/content for text, headline for "
                       "title, _id/uid/guid for id, published_at/pubdate for date, publisher/outlet for source. "
                       "Other fields are kept in `extra`. A missing title is taken from the first sentence.",
        "properties": {
            "id": {"type": "string", "description": "Your id; else the URL; else a content hash."},
            "title": {"type": "string"}, "text": {"type": "string", "minLength": 1},
            "source": {"type": "string"}, "author": {"type": ["string", "array"]},
            "date": {"type": "string", "description": "Any common date format; ISO 8601 preferred."},
            "url": {"type": "string"}, "language": {"type": "string"},
        },
    },
    "IngestRequest": {
        "anyOf": [
            _ref("ArticleInput"),
            {"type": "array", "items": _ref("ArticleInput"), "minItems": 1},
            {"type": "object", "required": ["articles"],
             "properties": {"articles": {"type": "array", "items": _ref("ArticleInput"), "minItems": 1}}},
        ],
    },
    "IngestSummary": {
        "type": "object",
        "required": ["ok", "added", "updated", "duplicates", "failed", "failures", "items"],
        "properties": {
            "ok": {"type": "boolean"},
            "added": {"type": "integer"}, "updated": {"type": "integer", "description": "Same id, new text."},
            "duplicates": {"type": "integer", "description": "Same text as a stored article: skipped."},
            "failed": {"type": "integer"}, "chunks": {"type": "integer"}, "seconds": {"type": "number"},
            "failures": {"type": "array", "items": {"type": "object", "required": ["origin", "reason"],
                                                    "properties": {"origin": {"type": "string"},
                                                                   "reason": {"type": "string"}}}},
            "items": {"type": "array", "description": "Outcome per record, in request order (origin articles[i]).",
                      "items": {"type": "object", "required": ["origin", "result"],
                                "properties": {"origin": {"type": "string"},
                                               "result": {"enum": ["stored", "duplicate", "failed"]},
                                               "uid": {"type": "string"}, "duplicate_of": {"type": "string"},
                                               "reason": {"type": "string"}}}},
            "error": {"type": "string"}, "status": {"type": "integer"},
        },
    },
    "DeleteResponse": {
        "type": "object", "required": ["ok", "deleted"],
        "properties": {"ok": {"const": True},
                       "deleted": {"type": "object", "required": ["id", "uid"],
                                   "properties": {"id": {"type": "integer"}, "uid": {"type": "string"}}}},
    },
    "Health": {
        "type": "object", "required": ["ok", "articles", "chunks", "vectors", "model", "index_type"],
        "properties": {"ok": {"const": True}, "articles": {"type": "integer"}, "chunks": {"type": "integer"},
                       "vectors": {"type": "integer"}, "model": {"type": "string"}, "encoder": {"type": "string"},
                       "index_type": {"type": "string", "description": "FAISS index kind, e.g. flat."}},
    },
}

RESPONSES: dict[str, Any] = {
    "BadRequest": _error("A parameter or the body is invalid; `param` names it."),
    "Unauthorized": _error("Missing or wrong API key.",
                           **{"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}),
    "Forbidden": _error("Writes are disabled: the server has no API key configured (ARCHIVE_API_KEY)."),
    "NotFound": _error("No article with that id or uid."),
    "TooLarge": _error("The request body is larger than ARCHIVE_MAX_BODY_BYTES."),
    "RateLimited": _error("Too many requests from this address (ARCHIVE_RATE_LIMIT).",
                          **{"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}),
}


def _errors(*names: str) -> dict[str, Any]:
    codes = {"BadRequest": "400", "Unauthorized": "401", "Forbidden": "403", "NotFound": "404",
             "TooLarge": "413", "RateLimited": "429"}
    return {codes[n]: {"$ref": f"#/components/responses/{n}"} for n in names}


def _search_operation(operation_id: str, summary: str, description: str, extra: list[dict] | None = None) -> dict:
    return {
        "operationId": operation_id, "summary": summary, "description": description, "tags": ["search"],
        "parameters": SEARCH_PARAMETERS + (extra or []),
        "responses": {"200": {**_json(_ref("SearchResponse"), "A page of results."), "headers": RATE_HEADERS},
                      **_errors("BadRequest", "RateLimited")},
    }


def openapi_document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    write_errors = _errors("Unauthorized", "Forbidden", "RateLimited")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "News Archive API", "version": "1.0.0",
            "description": "Keyword, semantic and hybrid search over a news archive, plus article reads and "
                           "authenticated writes. Every response is JSON: `{\"ok\": true, ...}` on success, "
                           "`{\"ok\": false, \"error\": \"...\", \"status\": N}` on error (with `param` naming a bad "
                           "parameter). Requests are rate limited per client address (ARCHIVE_RATE_LIMIT, "
                           "e.g. 120/minute) and answer 429 with Retry-After when exhausted.",
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": "search"}, {"name": "articles"}, {"name": "meta"}],
        "paths": {
            "/api/search": {"get": _search_operation("search", "Search articles",
                                                     "Results grouped per article with the best passage highlighted.")},
            "/search": {"get": _search_operation(
                "searchPage", "Search (content negotiation)",
                "The HTML search page; answers the same JSON as /api/search when the request sends "
                "`Accept: application/json` or `format=json`.",
                [{"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json"]},
                  "description": "json forces a JSON answer."}])},
            "/api/articles": {"post": {
                "operationId": "addArticles", "summary": "Add articles", "tags": ["articles"],
                "description": "Ingest one article, a list, or {\"articles\": [...]}. Duplicates (same text) are "
                               "skipped; a known id with new text is updated. 201 when at least one article was "
                               "added, 200 otherwise, 422 when none could be stored. "
                               f"At most {MAX_POST_ARTICLES} per request.",
                "security": [{"bearer": []}],
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref("IngestRequest")}}},
                "responses": {"201": _json(_ref("IngestSummary"), "Something was added."),
                              "200": _json(_ref("IngestSummary"), "Nothing new: duplicates or updates only."),
                              "422": _json(_ref("IngestSummary"), "No record could be stored (see failures)."),
                              **_errors("BadRequest", "TooLarge"), **write_errors},
            }},
            "/api/articles/{id}": {
                "get": {"operationId": "getArticle", "summary": "One article", "tags": ["articles"],
                        "parameters": [ARTICLE_KEY],
                        "responses": {"200": _json(_ref("ArticleResponse"), "The article."),
                                      **_errors("NotFound", "RateLimited")}},
                "delete": {"operationId": "deleteArticle", "summary": "Delete an article", "tags": ["articles"],
                           "parameters": [ARTICLE_KEY], "security": [{"bearer": []}],
                           "responses": {"200": _json(_ref("DeleteResponse"), "Deleted, with its passages and vectors."),
                                         **_errors("NotFound"), **write_errors}},
            },
            "/api/articles/{id}/related": {"get": {
                "operationId": "relatedArticles", "summary": "Related coverage", "tags": ["articles"],
                "description": "The nearest other articles by meaning (near-duplicates of the article left out).",
                "parameters": [ARTICLE_KEY, {"name": "limit", "in": "query", "schema": {
                    "type": "integer", "minimum": 1, "maximum": RELATED_MAX, "default": RELATED_DEFAULT}}],
                "responses": {"200": _json(_ref("RelatedResponse"), "Related articles, closest first."),
                              **_errors("BadRequest", "NotFound", "RateLimited")},
            }},
            "/api/health": {"get": {
                "operationId": "health", "summary": "Health and counts", "tags": ["meta"],
                "responses": {"200": _json(_ref("Health"), "The service is up."), **_errors("RateLimited")},
            }},
            "/api/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document", "tags": ["meta"],
                "responses": {"200": {"description": "The OpenAPI 3.1 document.",
                                      "content": {JSON: {"schema": {"type": "object"}}}}},
            }},
        },
        "components": {
            "schemas": SCHEMAS,
            "responses": RESPONSES,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "The server's ARCHIVE_API_KEY."}},
        },
    }
