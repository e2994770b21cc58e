"""The component schemas of saved searches (with their feeds) and batch searches."""

from __future__ import annotations

from typing import Any

from archive import limits
from archive.store.batches import STATUSES
from archive.web.schemas import DATE_OR_EMPTY, INT, STR, nullable, ref

DAY_OR_NONE = {"anyOf": [*DATE_OR_EMPTY["anyOf"], {"type": "null"}]}  # a saved search's bound: a day, blank or null
DATE_OR_NULL = nullable("string", format="date")


SAVED_SEARCH = {
    "type": "object",
    "required": ["id", "name", "q", "mode", "created_at", "alerts", "new", "page_url", "atom_url", "json_feed_url"],
    "properties": {
        "id": INT,
        "name": STR,
        "q": STR,
        "mode": {"type": "string", "enum": list(limits.MODES)},
        "source": nullable("string"),
        "author": nullable("string"),
        "after": DATE_OR_NULL,
        "before": DATE_OR_NULL,
        "created_at": {"type": "string", "format": "date-time"},
        "alerts": {"type": "integer", "description": "Articles that matched since it was saved."},
        "new": {"type": "integer", "description": "Of those, the ones since its page was last seen."},
        "search_url": STR,
        "page_url": STR,
        "atom_url": STR,
        "json_feed_url": STR,
    },
}
ALERT = {
    "type": "object",
    "required": ["alert_id", "id", "uid", "title", "alerted_at", "new"],
    "properties": {
        "alert_id": INT,
        "id": {"type": "integer", "description": "The article's id."},
        "uid": STR,
        "title": STR,
        "source": nullable("string"),
        "author": nullable("string"),
        "url": nullable("string"),
        "published_at": nullable("string", format="date-time"),
        "alerted_at": {"type": "string", "format": "date-time"},
        "score": nullable("number", description="Cosine of the best new passage (semantic saved searches)."),
        "summary": STR,
        "new": {"type": "boolean"},
    },
}
BATCH = {
    "type": "object",
    "required": ["id", "name", "mode", "status", "total", "done", "progress", "created_at"],
    "properties": {
        "id": INT,
        "name": STR,
        "mode": {"type": "string", "enum": list(limits.MODES)},
        "status": {"type": "string", "enum": list(STATUSES)},
        "total": {"type": "integer", "description": "Queries in the batch."},
        "done": {"type": "integer", "description": "Queries run so far."},
        "progress": {"type": "number", "minimum": 0, "maximum": 1},
        "created_at": {"type": "string", "format": "date-time"},
        "finished_at": nullable("string", format="date-time"),
        "error": nullable("string"),
        "page_url": STR,
        "csv_url": STR,
    },
}
BATCH_ROW = {
    "type": "object",
    "required": ["seq", "query", "matches", "hits", "search_url"],
    "properties": {
        "seq": INT,
        "query": STR,
        "matches": nullable("integer", description="The search's total; null until the query has run."),
        "hits": {
            "type": "array",
            "maxItems": limits.BATCH_TOP_HITS,
            "items": {
                "type": "object",
                "required": ["id", "uid", "title", "score"],
                "properties": {
                    "id": INT,
                    "uid": STR,
                    "title": STR,
                    "published_at": nullable("string", format="date-time"),
                    "score": {"type": "number"},
                    "chunk_seq": nullable("integer"),
                },
            },
        },
        "error": nullable("string", description="Why the search refused this query (e.g. a malformed filter)."),
        "search_url": STR,
    },
}


def _ok(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": ["ok", *properties], "properties": {"ok": {"const": True}, **properties}}


SCHEMAS: dict[str, Any] = {
    "SavedSearch": SAVED_SEARCH,
    "Alert": ALERT,
    "SavedSearchInput": {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": limits.SAVED_NAME_CHARS},
            # null is as good as leaving a field out
            "q": nullable("string", maxLength=limits.MAX_QUERY_CHARS),
            "mode": {
                "anyOf": [{"type": "string", "enum": list(limits.MODES)}, {"type": "null"}],
                "default": limits.DEFAULT_MODE,
            },
            "source": nullable("string"),
            "author": nullable("string"),
            "after": {**DAY_OR_NONE, "description": "On or after this day."},
            "before": {**DAY_OR_NONE, "description": "Before this day."},
        },
    },
    "SavedSearchList": _ok(saved={"type": "array", "items": ref("SavedSearch")}),
    "SavedSearchResponse": _ok(saved=ref("SavedSearch")),
    "SavedSearchAlerts": _ok(saved=ref("SavedSearch"), alerts={"type": "array", "items": ref("Alert")}),
    "SavedSearchDeleted": _ok(
        deleted={"type": "object", "required": ["id", "name"], "properties": {"id": INT, "name": STR}}
    ),
    "JsonFeed": {
        "type": "object",
        "required": ["version", "title", "items"],
        "properties": {
            "version": {"const": "https://jsonfeed.org/version/1.1"},
            "title": STR,
            "home_page_url": STR,
            "feed_url": STR,
            "description": STR,
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "url", "title"],
                    "properties": {
                        "id": STR,
                        "url": STR,
                        "external_url": STR,
                        "title": STR,
                        "summary": STR,
                        "content_text": STR,
                        "date_published": STR,
                        "date_modified": STR,
                        "authors": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
    },
    "Batch": BATCH,
    "BatchRow": BATCH_ROW,
    "BatchInput": {
        "type": "object",
        "required": ["queries"],
        "properties": {
            "queries": {
                "type": "array",
                "items": STR,
                "minItems": 1,
                "description": "ARCHIVE_BATCH_MAX_QUERIES at most.",
            },
            "name": {"type": "string", "maxLength": limits.SAVED_NAME_CHARS},
            "mode": {"type": "string", "enum": list(limits.MODES), "default": limits.BATCH_DEFAULT_MODE},
        },
    },
    "BatchUpload": {
        "type": "object",
        "properties": {
            "file": {
                "type": "string",
                "contentMediaType": "application/octet-stream",
                "description": "A .csv (its `query` column, else its first) or a text file (one query per line).",
            },
            "queries": {"type": "string", "description": "Or the queries typed, one per line."},
            "name": STR,
            "mode": {"type": "string", "enum": list(limits.MODES)},
        },
    },
    "BatchResponse": _ok(batch=ref("Batch")),
    "BatchList": _ok(batches={"type": "array", "items": ref("Batch")}),
    "BatchResults": _ok(batch=ref("Batch"), results={"type": "array", "items": ref("BatchRow")}),
    "BatchDeleted": _ok(deleted={"type": "object", "required": ["id", "name"], "properties": {"id": INT, "name": STR}}),
}
