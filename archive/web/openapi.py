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
from archive.web.schemas import SCHEMAS, ref

JSON = "application/json"
HTML = "text/html"
EMPTY_IS_400 = " An empty value is a 400 naming the parameter: leave it out for the default."
DATE_ORDER = (
    " `after` must be earlier than `before` (after is inclusive, before exclusive): after >= before is a 400 "
    "naming `after`. An empty value is no bound (as the search form sends a blank date)."
)
# A date, or empty: what the code accepts (an empty value is no bound).
DATE_OR_EMPTY = {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "maxLength": 0}]}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str, **headers: Any) -> dict[str, Any]:
    response = _json(ref("Error"), description)
    if headers:
        response["headers"] = headers
    return response


RATE_HEADERS = {
    "X-RateLimit-Limit": {
        "description": "Requests allowed per window (absent when rate limiting is off).",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Remaining": {"description": "Requests left before 429.", "schema": {"type": "integer"}},
}

SEARCH_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "q",
        "in": "query",
        "required": False,
        "description": "Search words or a question (bare words are optional and rank). Boolean: `AND`, `OR`, `NOT`, "
        "parentheses, `+required`, `-excluded`, quoted phrases (required), `title:` (in the title), `word*` (prefix). "
        "Filters may be typed inline: `source:`, `author:`, `after:YYYY-MM-DD`, `before:YYYY-MM-DD`. "
        "Malformed syntax is repaired, never an error. An empty q returns no results.",
        "schema": {"type": "string", "maxLength": MAX_QUERY_CHARS},
    },
    {
        "name": "mode",
        "in": "query",
        "description": "keyword (BM25), semantic (embeddings) or hybrid (rank fusion)." + EMPTY_IS_400,
        "schema": {"type": "string", "enum": list(MODES), "default": DEFAULT_MODE},
    },
    {
        "name": "limit",
        "in": "query",
        "description": f"Results per page, 1 to {MAX_LIMIT}. Values from {MAX_LIMIT + 1} to {CLAMP_CEILING} are clamped to "
        f"{MAX_LIMIT}; anything else is a 400." + EMPTY_IS_400,
        "schema": {"type": "integer", "minimum": 1, "maximum": CLAMP_CEILING, "default": DEFAULT_LIMIT},
    },
    {
        "name": "offset",
        "in": "query",
        "description": "Results to skip (for paging)." + EMPTY_IS_400,
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
    },
    {
        "name": "sort",
        "in": "query",
        "description": "relevance, newest or oldest first." + EMPTY_IS_400,
        "schema": {"type": "string", "enum": list(SORTS), "default": DEFAULT_SORT},
    },
    {
        "name": "source",
        "in": "query",
        "description": "Only this outlet (case-insensitive exact match). Empty: no filter.",
        "schema": {"type": "string"},
    },
    {
        "name": "author",
        "in": "query",
        "description": "Only authors containing this text (case-insensitive). Empty: no filter.",
        "schema": {"type": "string"},
    },
    {
        "name": "after",
        "in": "query",
        "description": "Published on or after this day (UTC)." + DATE_ORDER,
        "schema": DATE_OR_EMPTY,
    },
    {
        "name": "before",
        "in": "query",
        "description": "Published before this day (UTC, exclusive)." + DATE_ORDER,
        "schema": DATE_OR_EMPTY,
    },
]

ARTICLE_KEY = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "Numeric archive id, or the article's uid (URL-encode it).",
    "schema": {"type": "string"},
}

RESPONSES: dict[str, Any] = {
    "BadRequest": _error("A parameter or the body is invalid; `param` names it."),
    "Unauthorized": _error(
        "Missing or wrong API key.", **{"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}
    ),
    "Forbidden": _error("Writes are disabled: the server has no API key configured (ARCHIVE_API_KEY)."),
    "NotFound": _error("No article with that id or uid."),
    "TooLarge": _error("The request body is larger than ARCHIVE_MAX_BODY_BYTES."),
    "RateLimited": _error(
        "Too many requests from this address (ARCHIVE_RATE_LIMIT).",
        **{"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    ),
    "Unavailable": _error(
        "The archive cannot do this now: a write while another process holds the write lock, while the archive is "
        "read-only for the server or while its disk is full; or a damaged or missing index file (the message names "
        "it and the repair, `archive reindex`)."
    ),
}


def _errors(*names: str) -> dict[str, Any]:
    codes = {
        "BadRequest": "400",
        "Unauthorized": "401",
        "Forbidden": "403",
        "NotFound": "404",
        "TooLarge": "413",
        "RateLimited": "429",
        "Unavailable": "503",
    }
    return {codes[n]: {"$ref": f"#/components/responses/{n}"} for n in names}


def _search_operation(
    operation_id: str, summary: str, description: str, extra: list[dict] | None = None, html: bool = False
) -> dict:
    """A search operation; `html`: it also answers the HTML page (to a request that does not ask for JSON)."""
    ok = {**_json(ref("SearchResponse"), "A page of results."), "headers": RATE_HEADERS}
    responses = {"200": ok, **_errors("BadRequest", "RateLimited", "Unavailable")}
    if html:
        page = {"schema": {"type": "string"}}
        ok["content"] = {**ok["content"], HTML: page}
        ok["description"] = "A page of results: the HTML page, or JSON when asked for."
        bad = RESPONSES["BadRequest"]
        responses["400"] = {
            "description": bad["description"] + " The HTML page shows the message when JSON was not asked for.",
            "content": {**bad["content"], HTML: page},
        }
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "tags": ["search"],
        "parameters": SEARCH_PARAMETERS + (extra or []),
        "responses": responses,
    }


def openapi_document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    write_errors = _errors("Unauthorized", "Forbidden", "RateLimited", "Unavailable")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "News Archive API",
            "version": "1.0.0",
            "description": "Keyword, semantic and hybrid search over a news archive, plus article reads and "
            'authenticated writes. Every response is JSON: `{"ok": true, ...}` on success, '
            '`{"ok": false, "error": "...", "status": N}` on error (with `param` naming a bad '
            "parameter). Requests are rate limited per client address (ARCHIVE_RATE_LIMIT, "
            "e.g. 120/minute) and answer 429 with Retry-After when exhausted.",
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": "search"}, {"name": "articles"}, {"name": "meta"}],
        "paths": {
            "/api/search": {
                "get": _search_operation(
                    "search", "Search articles", "Results grouped per article with the best passage highlighted."
                )
            },
            "/search": {
                "get": _search_operation(
                    "searchPage",
                    "Search (content negotiation)",
                    "The HTML search page (text/html: the answer to a request without an Accept header, "
                    "or one preferring HTML); the same JSON as /api/search when the request sends "
                    "`Accept: application/json` or `format=json`.",
                    [
                        {
                            "name": "format",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "json forces a JSON answer; any other value (or none) leaves the choice "
                            "to the Accept header.",
                        }
                    ],
                    html=True,
                )
            },
            "/api/articles": {
                "post": {
                    "operationId": "addArticles",
                    "summary": "Add articles",
                    "tags": ["articles"],
                    "description": 'Ingest one article, a list, or {"articles": [...]}. Duplicates (same text) are '
                    "skipped; a known id with new text is updated. 201 when at least one article was "
                    "added, 200 otherwise, 422 when none could be stored. "
                    f"At most {MAX_POST_ARTICLES} per request.",
                    "security": [{"bearer": []}],
                    "requestBody": {"required": True, "content": {JSON: {"schema": ref("IngestRequest")}}},
                    "responses": {
                        "201": _json(ref("IngestSummary"), "Something was added."),
                        "200": _json(ref("IngestSummary"), "Nothing new: duplicates or updates only."),
                        "422": _json(ref("IngestSummary"), "No record could be stored (see failures)."),
                        **_errors("BadRequest", "TooLarge"),
                        **write_errors,
                    },
                }
            },
            "/api/articles/{id}": {
                "get": {
                    "operationId": "getArticle",
                    "summary": "One article",
                    "tags": ["articles"],
                    "parameters": [ARTICLE_KEY],
                    "responses": {
                        "200": _json(ref("ArticleResponse"), "The article."),
                        **_errors("NotFound", "RateLimited"),
                    },
                },
                "delete": {
                    "operationId": "deleteArticle",
                    "summary": "Delete an article",
                    "tags": ["articles"],
                    "parameters": [ARTICLE_KEY],
                    "security": [{"bearer": []}],
                    "responses": {
                        "200": _json(ref("DeleteResponse"), "Deleted, with its passages and vectors."),
                        **_errors("NotFound"),
                        **write_errors,
                    },
                },
            },
            "/api/articles/{id}/related": {
                "get": {
                    "operationId": "relatedArticles",
                    "summary": "Related coverage",
                    "tags": ["articles"],
                    "description": "The nearest other articles by meaning (near-duplicates of the article left out).",
                    "parameters": [
                        ARTICLE_KEY,
                        {
                            "name": "limit",
                            "in": "query",
                            "description": f"Related articles, 1 to {RELATED_MAX}." + EMPTY_IS_400,
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": RELATED_MAX,
                                "default": RELATED_DEFAULT,
                            },
                        },
                    ],
                    "responses": {
                        "200": _json(ref("RelatedResponse"), "Related articles, closest first."),
                        **_errors("BadRequest", "NotFound", "RateLimited", "Unavailable"),
                    },
                }
            },
            "/api/health": {
                "get": {
                    "operationId": "health",
                    "summary": "Health and counts",
                    "tags": ["meta"],
                    "responses": {"200": _json(ref("Health"), "The service is up."), **_errors("RateLimited")},
                }
            },
            "/api/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "tags": ["meta"],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI 3.1 document.",
                            "content": {JSON: {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": SCHEMAS,
            "responses": RESPONSES,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "The server's ARCHIVE_API_KEY."}
            },
        },
    }
