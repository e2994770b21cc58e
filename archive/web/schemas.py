"""The component schemas of the OpenAPI document: the JSON shapes the API answers with."""

from __future__ import annotations

from typing import Any

from archive.limits import KEYWORD_WINDOW, MAX_LIMIT, MODES, SORTS
from archive.search.histogram import BUCKETS, DAY_SPAN, MONTH_SPAN, WEEK_SPAN
from archive.web.params import EXPORT_COLUMNS


def ref(name: str) -> dict[str, str]:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(kind: str, **extra: Any) -> dict[str, Any]:
    """A JSON type that may also be null."""
    return {"type": [kind, "null"], **extra}


INT = {"type": "integer"}
STR = {"type": "string"}
# A day, or nothing (empty or blank: no bound, as the search form sends a blank date).
DATE_OR_EMPTY = {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "pattern": r"^\s*$"}]}
# What every listed article shows first (documents.DISPLAY_FIELDS and the date), as search.results.ArticleRef.
ARTICLE_REF = {
    "id": INT,
    "uid": STR,
    "title": STR,
    "source": nullable("string"),
    "author": nullable("string"),
    "url": nullable("string"),
    "published_at": nullable("string", format="date-time"),
}

THREAD = {"oneOf": [ref("ThreadRef"), {"type": "null"}], "description": "Its story thread (/api/threads/{id})."}

SCHEMAS: dict[str, Any] = {
    "Version": {
        "type": "object",
        "description": "Another version of the same story (a wire copy, a lightly edited re-run, the story in "
        "another outlet), folded into this result; the article is at /api/articles/{uid}.",
        "required": ["id", "uid", "title", "source", "url", "published_at"],
        "properties": {
            "id": INT,
            "uid": STR,
            "title": STR,
            "source": nullable("string"),
            "url": nullable("string", description="The original article."),
            "published_at": nullable("string", format="date-time"),
        },
    },
    "Error": {
        "type": "object",
        "required": ["ok", "error", "status"],
        "additionalProperties": True,
        "properties": {
            "ok": {"const": False},
            "error": {"type": "string", "description": "What went wrong, for humans."},
            "status": {"type": "integer", "description": "The HTTP status, repeated."},
            "param": {"type": "string", "description": "The request parameter at fault (400 only)."},
        },
    },
    "Explain": {
        "type": "object",
        "required": ["keyword_rank", "semantic_rank", "fused_score"],
        "properties": {
            "keyword_rank": nullable("integer", description="Rank among keyword matches (1 = best), null if none."),
            "semantic_rank": nullable(
                "integer", description="Rank among the nearest in meaning, null if not among them."
            ),
            "keyword_score": nullable("number", description="BM25 score (higher is better)."),
            "semantic_score": nullable(
                "number",
                description="Semantic ranking score: the best passage's cosine plus a small bonus per "
                "further matching passage.",
            ),
            "fused_score": {"type": "number", "description": "The score results are ranked by in this mode."},
            "cosine": nullable(
                "number",
                description="Cosine similarity of the best passage to the query (what the relevance floor judges); "
                "null when the article was not among the nearest in meaning.",
            ),
        },
    },
    "SearchResult": {
        "type": "object",
        "required": [
            "id",
            "uid",
            "title",
            "source",
            "author",
            "url",
            "published_at",
            "score",
            "passage",
            "passage_html",
            "highlights",
            "chunk_seq",
            "passage_start",
            "passage_end",
            "explain",
            "matched_words",
            "meaning",
            "versions",
        ],
        "properties": {
            **ARTICLE_REF,
            "score": {"type": "number"},
            "passage": {
                "type": "string",
                "description": "The best passage as display text: `body[passage_start:passage_end]` with every "
                "whitespace run (the line breaks of hard-wrapped text) collapsed to one space.",
            },
            "passage_html": {"type": "string", "description": "The passage HTML-escaped, query words in <mark>."},
            "highlights": {
                "type": "array",
                "description": "[start, end) of highlighted words in `passage` (the display text).",
                "items": {"type": "array", "items": INT, "minItems": 2, "maxItems": 2},
            },
            "chunk_id": INT,
            "chunk_seq": {
                "type": "integer",
                "description": "Passage number; the article page anchors it as #passage-N.",
            },
            "passage_start": {"type": "integer", "description": "Offset of the passage in the stored article body."},
            "passage_end": {"type": "integer", "description": "End offset (exclusive) in the stored body."},
            "explain": ref("Explain"),
            "matched_words": {
                "type": "array",
                "items": STR,
                "description": "Why it matched, in words: the query's words found in the article (title or body, as "
                "the keyword index matches them: stemmed, so `cameras` finds camera); required words first.",
            },
            "meaning": nullable(
                "string",
                enum=["close in meaning", "loosely related in meaning", None],
                description="How strongly the article matched on meaning (its best passage's cosine against "
                "`close_meaning` and the relevance floor); null when not matched by meaning (or in keyword mode).",
            ),
            "versions": {
                "type": "array",
                "items": ref("Version"),
                "description": "The story's other versions, oldest first (empty when it has none, or when "
                "`collapse` is false).",
            },
            "thread": THREAD,
        },
    },
    "Facet": {
        "type": "array",
        "items": {"type": "object", "required": ["value", "count"], "properties": {"value": STR, "count": INT}},
    },
    "DateHistogram": {
        "type": "array",
        "description": "Matches per period (`date_bucket`) from the period of the first match to that of the last, "
        "empty periods included at zero; undated matches are in no period. `start` and `end` are the `after` and "
        "`before` parameters that narrow the search to a period.",
        "items": {
            "type": "object",
            "required": ["value", "start", "end", "count"],
            "properties": {
                "value": {"type": "string", "description": "1987-03-02 (day), 1987-W10 (ISO week), 1987-03, 1987."},
                "start": {"type": "string", "format": "date", "description": "First day (inclusive)."},
                "end": {"type": "string", "format": "date", "description": "Day after the last (exclusive)."},
                "count": INT,
            },
        },
    },
    "SearchResponse": {
        "type": "object",
        "required": [
            "ok",
            "query",
            "mode",
            "total",
            "total_relation",
            "limit",
            "offset",
            "sort",
            "results",
            "facets",
            "date_bucket",
            "filters",
            "took_ms",
            "next",
            "prev",
            "collapse",
            "did_you_mean",
        ],
        "properties": {
            "ok": {"const": True},
            "query": STR,
            "mode": {"type": "string", "enum": list(MODES)},
            "total": {
                "type": "integer",
                "description": "Matching stories over all pages (articles when `collapse` is false): in semantic and "
                "hybrid modes, those a relevance floor or enough of the query's words justify (docs/search.md).",
            },
            "total_relation": {
                "type": "string",
                "enum": ["eq", "gte"],
                "description": "`eq`: `total` is exact. `gte`: at least `total` (semantic and hybrid modes rank a "
                "window of candidates; more justified articles may lie beyond it; keyword mode counts a match set "
                f"of more than {KEYWORD_WINDOW:,} articles over its newest {KEYWORD_WINDOW:,}).",
            },
            "did_you_mean": nullable(
                "string",
                description="The query as typed with its doubtful words respelled (`earthqake Equador` -> `earthquake "
                "Ecuador`): a word the archive holds in fewer than ARCHIVE_SPELLING_MIN_DOCS articles, replaced by a "
                "close word (one or two edits) it holds far more often (ARCHIVE_SPELLING_RATIO times). null when no "
                "word is doubtful. Run it as a new search to follow it (docs/search.md, Spelling suggestions).",
            ),
            "collapse": {
                "type": "boolean",
                "description": "One result per story: near copies are in each result's `versions`, and `total` "
                "and the facets count stories.",
            },
            "limit": {"type": "integer", "description": f"Page size actually used (at most {MAX_LIMIT})."},
            "offset": INT,
            "sort": {"type": "string", "enum": list(SORTS)},
            "took_ms": {"type": "number", "description": "Milliseconds the search took on the server."},
            "next": nullable(
                "string",
                description="Root-relative URL of the next page (this request with offset + limit); null on the last.",
            ),
            "prev": nullable(
                "string", description="Root-relative URL of the previous page; null on the first (offset 0)."
            ),
            "results": {"type": "array", "items": ref("SearchResult")},
            "facets": {
                "type": "object",
                "description": "Counts over all matching stories (articles when `collapse` is false; keyword mode: exact; "
                "semantic and hybrid: "
                "over the candidate set that `total` counts).",
                "properties": {"source": ref("Facet"), "year": ref("Facet"), "date": ref("DateHistogram")},
            },
            "date_bucket": {
                "type": ["string", "null"],
                "enum": [*BUCKETS, None],
                "description": "The bucket of `facets.date`, chosen from the matched date range: day (up to "
                f"{DAY_SPAN} days from the first to the last match), week (up to {WEEK_SPAN} days), month (up to "
                f"{MONTH_SPAN} days), else year. null when no match has a date.",
            },
            "filters": {
                "type": "object",
                "description": "Filters applied (from parameters or typed in q).",
                "properties": {
                    "source": nullable("string"),
                    "author": nullable("string"),
                    "after": nullable("string", format="date"),
                    "before": nullable("string", format="date"),
                },
            },
        },
    },
    "ExportRow": {
        "type": "object",
        "description": "One row of /api/search/export (a CSV record has the same columns, in this order).",
        "required": list(EXPORT_COLUMNS),
        "properties": {
            "id": INT,
            "uid": STR,
            "title": STR,
            "source": nullable("string"),
            "author": nullable("string"),
            "published_at": nullable("string", format="date-time"),
            "url": nullable("string", description="The original article."),
            "permalink": {"type": "string", "description": "The archive page at the result's passage."},
            "score": {"type": "number"},
            "passage": {"type": "string", "description": "The best passage (display text)."},
        },
    },
    "Article": {
        "type": "object",
        "required": ["id", "uid", "title", "source", "author", "url", "published_at", "body", "passages"],
        "properties": {
            **ARTICLE_REF,
            "language": nullable("string"),
            "ingested_at": nullable("string", format="date-time"),
            "extra": {"type": "object", "description": "Other fields of the source record."},
            "body": STR,
            "passages": {
                "type": "array",
                "description": "Non-overlapping passages (the search index's chunks).",
                "items": {
                    "type": "object",
                    "required": ["seq", "start", "end"],
                    "properties": {"seq": INT, "start": INT, "end": INT},
                },
            },
            "thread": THREAD,
        },
    },
    "ArticleResponse": {
        "type": "object",
        "required": ["ok", "article"],
        "properties": {"ok": {"const": True}, "article": ref("Article")},
    },
    "RelatedArticle": {
        "type": "object",
        "required": ["id", "uid", "title", "published_at", "score"],
        "properties": {
            **ARTICLE_REF,
            "score": {"type": "number", "description": "Cosine similarity (higher is closer)."},
            "snippet": {
                "type": "string",
                "description": "The article's opening words (display text: whitespace collapsed).",
            },
            "versions": {"type": "array", "items": ref("Version"), "description": "The story's other versions."},
            "thread": THREAD,
        },
    },
    "RelatedResponse": {
        "type": "object",
        "required": ["ok", "article", "related"],
        "properties": {
            "ok": {"const": True},
            "article": {
                "type": "object",
                "required": ["id", "uid", "title"],
                "properties": {"id": INT, "uid": STR, "title": STR},
            },
            "related": {"type": "array", "items": ref("RelatedArticle")},
        },
    },
    "Health": {
        "type": "object",
        "required": ["ok", "articles", "chunks", "vectors", "model", "index_type", "pending_vectors"],
        "properties": {
            "ok": {"const": True},
            "articles": INT,
            "chunks": INT,
            "vectors": INT,
            "model": STR,
            "encoder": STR,
            "index_type": {"type": "string", "description": "FAISS index kind, e.g. flat."},
            "pending_vectors": {
                "type": "integer",
                "minimum": 0,
                "description": "Chunks stored without a vector yet (searchable by keyword only until the next "
                "write embeds them).",
            },
        },
    },
}
