"""The component schemas of the write side of the API: articles sent in, what an ingest or a delete answers."""

from __future__ import annotations

from typing import Any

from archive.web.schemas import INT, STR, nullable, ref

SCHEMAS: dict[str, Any] = {
    "ArticleInput": {
        "type": "object",
        "required": ["text"],
        "additionalProperties": True,
        "description": "One article. Aliases are accepted as in .json files: body/content for text, headline for "
        "title, _id/uid/guid for id, published_at/pubdate for date, publisher/outlet for source. "
        "Other fields are kept in `extra`. A missing title is taken from the first sentence. null (or a blank "
        "string, except for id, which must not be empty) means the field is absent.",
        "properties": {
            "id": nullable("string", minLength=1, description="Your id; else the URL; else a content hash."),
            "title": nullable("string"),
            "text": {"type": "string", "minLength": 1},
            "source": nullable("string"),
            "author": {"anyOf": [STR, {"type": "array", "items": STR}, {"type": "null"}]},
            "date": nullable("string", description="Any common date format; ISO 8601 preferred."),
            "url": nullable("string"),
            "language": nullable("string"),
        },
    },
    "IngestRequest": {
        "anyOf": [
            ref("ArticleInput"),
            {"type": "array", "items": ref("ArticleInput"), "minItems": 1},
            {
                "type": "object",
                "required": ["articles"],
                "properties": {"articles": {"type": "array", "items": ref("ArticleInput"), "minItems": 1}},
            },
        ]
    },
    "IngestSummary": {
        "type": "object",
        "required": ["ok", "added", "updated", "duplicates", "failed", "failures", "items"],
        "properties": {
            "ok": {"type": "boolean"},
            "added": INT,
            "updated": {"type": "integer", "description": "Same id, new text."},
            "duplicates": {"type": "integer", "description": "Same text as a stored article: skipped."},
            "failed": INT,
            "chunks": INT,
            "seconds": {"type": "number"},
            "failures": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["origin", "reason"],
                    "properties": {"origin": STR, "reason": STR},
                },
            },
            "items": {
                "type": "array",
                "description": "Outcome per record, in request order (origin articles[i]).",
                "items": {
                    "type": "object",
                    "required": ["origin", "result"],
                    "properties": {
                        "origin": STR,
                        "result": {"enum": ["stored", "duplicate", "failed"]},
                        "uid": STR,
                        "duplicate_of": STR,
                        "reason": STR,
                        "warnings": {
                            "type": "array",
                            "items": STR,
                            "description": "What was stored differently from what was sent (a published_at "
                            "that is not a date: stored without a date).",
                        },
                    },
                },
            },
            "undated": {
                "type": "array",
                "description": "Records whose published_at is not a date the archive reads: stored without a date, "
                "the text kept as extra.date_raw.",
                "items": {
                    "type": "object",
                    "required": ["origin", "published_at"],
                    "properties": {"origin": STR, "published_at": STR},
                },
            },
            "error": STR,
            "status": INT,
        },
    },
    "DeleteResponse": {
        "type": "object",
        "required": ["ok", "deleted"],
        "properties": {
            "ok": {"const": True},
            "deleted": {"type": "object", "required": ["id", "uid"], "properties": {"id": INT, "uid": STR}},
        },
    },
}
