"""The OpenAPI 3.1 document of the JSON API, built from plain dicts (no Flask)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archive.config import Settings
from archive.limits import MAX_POST_ARTICLES
from archive.search.histogram import BUCKETS
from archive.web.openapi_desk import SCHEMAS as DESK_SCHEMAS
from archive.web.openapi_desk import paths as desk_paths
from archive.web.openapi_examples import ARTICLE_EXAMPLE, SEARCH_EXAMPLE
from archive.web.openapi_params import query_parameters
from archive.web.openapi_threads import SCHEMAS as THREAD_SCHEMAS
from archive.web.openapi_threads import paths as thread_paths
from archive.web.params import EXPORT_COLUMNS
from archive.web.schemas import SCHEMAS, ref
from archive.web.schemas_write import SCHEMAS as WRITE_SCHEMAS

JSON = "application/json"
HTML = "text/html"


def _json(schema: dict[str, Any], description: str, example: dict[str, Any] | None = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["examples"] = {example["name"]: {"summary": example["summary"], "value": example["value"]}}
    return {"description": description, "content": {JSON: media}}


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

ARTICLE_KEY = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "Numeric archive id, or the article's uid (URL-encode it).",
    "schema": {"type": "string"},
    "examples": {"uid": {"summary": "By uid", "value": "wire-003"}, "id": {"summary": "By archive id", "value": "4"}},
}

RESPONSES: dict[str, Any] = {
    "BadRequest": _error("A parameter or the body is invalid; `param` names it."),
    "Unauthorized": _error(
        "Missing or wrong API key.", **{"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}
    ),
    "Forbidden": _error("Writes are disabled: the server has no API key configured (ARCHIVE_API_KEY)."),
    "NotFound": _error("No article (saved search, batch search) with that id or uid."),
    "TooLarge": _error("The request body is larger than ARCHIVE_MAX_BODY_BYTES."),
    "RateLimited": _error(
        "Too many requests from this address (ARCHIVE_RATE_LIMIT).",
        **{"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    ),
    "Unavailable": _error(
        "The archive cannot do this now: a write while another write runs (one at a time: on this server it is "
        "refused at once, not queued; while another process holds the write lock, after 10 s), with Retry-After; "
        "a write while the archive is read-only for the server or while its disk is full; or a damaged or missing "
        "index file (the message names it and the repair, `archive reindex`).",
        **{"Retry-After": {"description": "Seconds to wait (a busy writer).", "schema": {"type": "integer"}}},
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
    operation_id: str,
    endpoint: str,
    summary: str,
    description: str,
    html: bool = False,
    labels: Mapping[str, str] | None = None,
) -> dict:
    """A search operation; `html`: it also answers the HTML page (to a request that does not ask for JSON)."""
    ok = {**_json(ref("SearchResponse"), "A page of results.", SEARCH_EXAMPLE), "headers": RATE_HEADERS}
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
        "parameters": query_parameters(endpoint, labels),
        "responses": responses,
    }


EXPORT_HEADERS = {
    "X-Total-Count": {"description": "Matching articles (the search's `total`).", "schema": {"type": "integer"}},
    "X-Export-Rows": {
        "description": "Rows that follow: min(total, ARCHIVE_EXPORT_MAX).",
        "schema": {"type": "integer"},
    },
    "X-Export-Truncated": {
        "description": "true when total exceeds ARCHIVE_EXPORT_MAX and only the first rows follow.",
        "schema": {"type": "string", "enum": ["true", "false"]},
    },
    "Content-Disposition": {
        "description": "attachment; filename=archive-<query>.<format>",
        "schema": {"type": "string"},
    },
}


def _export_operation(labels: Mapping[str, str]) -> dict[str, Any]:
    columns = ", ".join(EXPORT_COLUMNS)
    return {
        "operationId": "exportSearch",
        "summary": "Export a whole result set",
        "tags": ["search"],
        "description": "Every result of the search (not one page), in the search's order, as CSV or JSON Lines, "
        "streamed; at most ARCHIVE_EXPORT_MAX rows (default 10,000). The parameters are those of /api/search "
        "without limit and offset, plus format. One row per article: "
        f"{columns}. `permalink` is the archive page of the result's passage (/articles/<id>#passage-N); "
        "`passage` is the display text of /api/search. CSV cells that a spreadsheet would run as a formula "
        "(starting with = + - @) get a leading apostrophe. The set is what a first search page counts in `total`: "
        "all matches in keyword mode, the fused candidates in hybrid mode.",
        "parameters": query_parameters("api.export", labels),
        "responses": {
            "200": {
                "description": "The rows, streamed.",
                "headers": {**EXPORT_HEADERS, **RATE_HEADERS},
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/x-ndjson": {
                        "schema": {"type": "string", "description": "One ExportRow object per line."}
                    },
                },
            },
            **_errors("BadRequest", "RateLimited", "Unavailable"),
        },
    }


def _cite_operation() -> dict[str, Any]:
    return {
        "operationId": "citeArticle",
        "summary": "Cite an article",
        "tags": ["articles"],
        "description": "A citation to import into a reference manager: title, outlet, authors, publication date, "
        "the original URL, the archive permalink (to passage p when given) and today's date as access date. "
        "Sent as a download (Content-Disposition: attachment).",
        "parameters": [ARTICLE_KEY, *query_parameters("api.cite")],
        "responses": {
            "200": {
                "description": "The citation.",
                "content": {
                    "application/x-research-info-systems": {"schema": {"type": "string"}},
                    "application/x-bibtex": {"schema": {"type": "string"}},
                    "application/vnd.citationstyles.csl+json": {
                        "schema": {"type": "array", "items": {"type": "object"}}
                    },
                },
            },
            **_errors("BadRequest", "NotFound", "RateLimited"),
        },
    }


def openapi_document(labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document; `labels`: the label filters (default: those of the default settings)."""
    labels = Settings().labels if labels is None else labels
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
            "e.g. 120/minute) and answer 429 with Retry-After when exhausted. A query parameter an endpoint "
            "does not read is a 400 naming it. Browsers on the origins in ARCHIVE_CORS_ORIGINS may call the "
            "read endpoints (CORS; off by default; writes only with ARCHIVE_CORS_WRITES).",
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": "search"}, {"name": "articles"}, {"name": "saved"}, {"name": "batches"}, {"name": "meta"}],
        "paths": {
            "/api/search": {
                "get": _search_operation(
                    "search",
                    "api.search",
                    "Search articles",
                    "Results grouped per article with the best passage highlighted; `next`/`prev` link the "
                    "neighbouring pages, `took_ms` times the search, `facets.date` is a date histogram "
                    f"({', '.join(BUCKETS)} buckets, chosen from the matched range).",
                    labels=labels,
                )
            },
            "/api/search/export": {"get": _export_operation(labels)},
            "/search": {
                "get": _search_operation(
                    "searchPage",
                    "pages.search_page",
                    "Search (content negotiation)",
                    "The HTML search page (text/html: the answer to a request without an Accept header, "
                    "or one preferring HTML); the same JSON as /api/search when the request sends "
                    "`Accept: application/json` or `format=json`.",
                    html=True,
                    labels=labels,
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
                        "200": _json(ref("ArticleResponse"), "The article.", ARTICLE_EXAMPLE),
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
                    "parameters": [ARTICLE_KEY, *query_parameters("api.related")],
                    "responses": {
                        "200": _json(ref("RelatedResponse"), "Related articles, closest first."),
                        **_errors("BadRequest", "NotFound", "RateLimited", "Unavailable"),
                    },
                }
            },
            "/api/articles/{id}/cite": {"get": _cite_operation()},
            **thread_paths(_json, _errors),
            "/api/health": {
                "get": {
                    "operationId": "health",
                    "summary": "Health and counts",
                    "tags": ["meta"],
                    "responses": {"200": _json(ref("Health"), "The service is up."), **_errors("RateLimited")},
                }
            },
            **desk_paths(_json, _errors),
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
            "schemas": {**SCHEMAS, **WRITE_SCHEMAS, **THREAD_SCHEMAS, **DESK_SCHEMAS},
            "responses": RESPONSES,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "The server's ARCHIVE_API_KEY."}
            },
        },
    }
