"""The OpenAPI path and schemas of story threads (`archive.threads`; no Flask)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from archive.limits import THREAD_MAX
from archive.web.schemas import INT, ref
from archive.web.schemas import SCHEMAS as BASE_SCHEMAS

__all__ = ["SCHEMAS", "paths"]


SCHEMAS: dict[str, Any] = {
    "ThreadRef": {
        "type": "object",
        "description": "A story thread: articles about one developing story across days and outlets; the thread "
        "is at /api/threads/{id}.",
        "required": ["id", "size"],
        "properties": {
            "id": {"type": "integer", "description": "The thread's id (the id of the article that began it)."},
            "size": {"type": "integer", "description": "How many articles it holds (1: none follows the story)."},
        },
    },
    "ThreadArticle": {  # what a version of a story shows: identity, outlet, link and time
        **{k: v for k, v in BASE_SCHEMAS["Version"].items() if k != "description"},
        "description": "One article of the thread.",
    },
    "ThreadResponse": {
        "type": "object",
        "required": ["ok", "thread"],
        "properties": {
            "ok": {"const": True},
            "thread": {
                "type": "object",
                "required": ["id", "size", "articles"],
                "properties": {
                    "id": INT,
                    "size": INT,
                    "articles": {
                        "type": "array",
                        "items": ref("ThreadArticle"),
                        "description": f"Oldest first; at most {THREAD_MAX} (`size` counts them all).",
                    },
                },
            },
        },
    },
}


def paths(json: Callable[..., dict[str, Any]], errors: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """`/api/threads/{id}`, built with the main document's response helpers."""
    return {
        "/api/threads/{id}": {
            "get": {
                "operationId": "getThread",
                "summary": "One story thread",
                "tags": ["articles"],
                "description": "The articles of one developing story across days and outlets, oldest first. "
                "Articles and results name their thread in `thread`.",
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "description": "The thread's id (`thread.id` of an article or result).",
                        "schema": {"type": "string"},
                        "examples": {"id": {"summary": "A thread", "value": "1"}},
                    }
                ],
                "responses": {"200": json(ref("ThreadResponse"), "The thread."), **errors("NotFound", "RateLimited")},
            }
        }
    }
