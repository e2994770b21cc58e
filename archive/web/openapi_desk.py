"""The OpenAPI paths and schemas of saved searches (with their feeds) and batch searches (no Flask)."""

from __future__ import annotations

from typing import Any

from archive import limits
from archive.web.openapi_params import query_parameters
from archive.web.schemas import STR, ref
from archive.web.schemas_desk import SCHEMAS

__all__ = ["SCHEMAS", "paths"]

JSON = "application/json"


def _key(what: str) -> dict[str, Any]:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": f"The {what}'s numeric id" + (" or its name (URL-encoded)." if what == "saved search" else "."),
        "schema": {"type": "string"},
        "examples": {"id": {"summary": "By id", "value": "1"}},
    }


SAVED_KEY = _key("saved search")
BATCH_KEY = _key("batch search")


def paths(json_response: Any, errors: Any) -> dict[str, Any]:
    """The paths, built with the main document's helpers (`_json`, `_errors`)."""
    write = errors("Unauthorized", "Forbidden", "RateLimited", "Unavailable")
    secured = [{"bearer": []}]

    def op(operation_id: str, summary: str, tag: str, **extra: Any) -> dict[str, Any]:
        return {"operationId": operation_id, "summary": summary, "tags": [tag], **extra}

    def read(name: str, schema: str, description: str, key: dict | None = None, **extra: Any) -> dict[str, Any]:
        params = [key] if key else []
        return {
            "parameters": params + query_parameters(name),
            "responses": {
                "200": json_response(ref(schema), description),
                **errors(*(("NotFound",) if key else ()), "RateLimited"),
            },
            **extra,
        }

    return {
        "/api/saved": {
            "get": op(
                "listSavedSearches",
                "Saved searches",
                "saved",
                **read("saved.api_list", "SavedSearchList", "Every saved search, by name."),
            ),
            "post": op(
                "saveSearch",
                "Save a search",
                "saved",
                description="Save a search (query, mode, filters) under a unique name. From now on every new article "
                "that matches it is recorded as an alert (keyword and hybrid: the query's matching rules; semantic: "
                "cosine >= ARCHIVE_ALERT_SIMILARITY). A 409 when the name is taken.",
                security=secured,
                requestBody={"required": True, "content": {JSON: {"schema": ref("SavedSearchInput")}}},
                responses={
                    "201": json_response(ref("SavedSearchResponse"), "Saved."),
                    "409": json_response(ref("Error"), "A saved search already has this name."),
                    **errors("BadRequest", "TooLarge"),
                    **write,
                },
            ),
        },
        "/api/saved/{id}": {
            "get": op(
                "getSavedSearch",
                "A saved search and its alerts",
                "saved",
                **read(
                    "saved.api_get",
                    "SavedSearchAlerts",
                    f"The saved search and its newest {limits.ALERTS_ON_PAGE} alerts, newest first.",
                    SAVED_KEY,
                ),
            ),
            "delete": op(
                "deleteSavedSearch",
                "Delete a saved search",
                "saved",
                parameters=[SAVED_KEY],
                security=secured,
                responses={
                    "200": json_response(ref("SavedSearchDeleted"), "Deleted with its alerts."),
                    **errors("NotFound"),
                    **write,
                },
            ),
        },
        "/api/saved/{id}/seen": {
            "post": op(
                "markSavedSearchSeen",
                "Mark its alerts seen",
                "saved",
                parameters=[SAVED_KEY],
                security=secured,
                responses={
                    "200": json_response(ref("SavedSearchResponse"), "No alert is new any more."),
                    **errors("NotFound"),
                    **write,
                },
            )
        },
        "/api/saved/{id}/atom": {
            "get": op(
                "savedSearchAtom",
                "Atom feed of a saved search",
                "saved",
                description=f"Its newest {limits.FEED_ENTRIES} alerts as an Atom feed (RFC 4287), newest first.",
                parameters=[SAVED_KEY],
                responses={
                    "200": {"description": "The feed.", "content": {"application/atom+xml": {"schema": STR}}},
                    **errors("NotFound", "RateLimited"),
                },
            )
        },
        "/api/saved/{id}/feed.json": {
            "get": op(
                "savedSearchJsonFeed",
                "JSON Feed of a saved search",
                "saved",
                description=f"Its newest {limits.FEED_ENTRIES} alerts as a JSON Feed 1.1, newest first.",
                parameters=[SAVED_KEY],
                responses={
                    "200": {
                        "description": "The feed.",
                        "content": {"application/feed+json": {"schema": ref("JsonFeed")}},
                    },
                    **errors("NotFound", "RateLimited"),
                },
            )
        },
        "/api/batches": {
            "get": op(
                "listBatches",
                "Batch searches",
                "batches",
                **read("batches.api_list", "BatchList", "Every batch search, newest first."),
            ),
            "post": op(
                "startBatch",
                "Start a batch search",
                "batches",
                description="Run many queries in the background: per query, its number of matches (the search's "
                f"total) and its top {limits.BATCH_TOP_HITS} hits. JSON, or a form upload of a CSV or text file. "
                "Answers 202 at once; follow the progress at /api/batches/{id}.",
                security=secured,
                requestBody={
                    "required": True,
                    "content": {
                        JSON: {"schema": ref("BatchInput")},
                        "multipart/form-data": {"schema": ref("BatchUpload")},
                    },
                },
                responses={
                    "202": json_response(ref("BatchResponse"), "Queued."),
                    **errors("BadRequest", "TooLarge"),
                    **write,
                },
            ),
        },
        "/api/batches/{id}": {
            "get": op(
                "getBatch",
                "A batch search: progress and results",
                "batches",
                **read("batches.api_get", "BatchResults", "The job and one row per query.", BATCH_KEY),
            ),
            "delete": op(
                "deleteBatch",
                "Delete a batch search",
                "batches",
                parameters=[BATCH_KEY],
                security=secured,
                responses={
                    "200": json_response(ref("BatchDeleted"), "Deleted with its results."),
                    **errors("NotFound"),
                    **write,
                },
            ),
        },
        "/api/batches/{id}/csv": {
            "get": op(
                "batchCsv",
                "A batch search's results as CSV",
                "batches",
                description="One row per query: query, matches, search_url, hit_N_title and hit_N_link for the top "
                "hits, error.",
                parameters=[BATCH_KEY],
                responses={
                    "200": {"description": "The CSV.", "content": {"text/csv": {"schema": STR}}},
                    **errors("NotFound", "RateLimited"),
                },
            )
        },
        "/api/batches/{id}/resume": {
            "post": op(
                "resumeBatch",
                "Resume an interrupted batch search",
                "batches",
                description="Continue from its first query without a result (a job is interrupted when the server "
                "that ran it stopped). A 409 unless it is interrupted or failed.",
                parameters=[BATCH_KEY],
                security=secured,
                responses={
                    "202": json_response(ref("BatchResponse"), "Queued again."),
                    "409": json_response(ref("Error"), "Not interrupted."),
                    **errors("NotFound"),
                    **write,
                },
            )
        },
    }
