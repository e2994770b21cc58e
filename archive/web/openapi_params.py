"""The query parameters of the OpenAPI document, per endpoint, from `params.ACCEPTED` (no Flask).

Each parameter is described once (`PARAMETERS`); a name that means something else on one
endpoint (`format`, the related `limit`) has an override. Which parameters an operation
lists is not written here: it is `params.ACCEPTED[endpoint]`, the same table that rejects
unknown parameters, so the document and the server cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archive.limits import (
    CLAMP_CEILING,
    COLLAPSE_HELP,
    DEFAULT_COLLAPSE,
    DEFAULT_LIMIT,
    DEFAULT_MODE,
    DEFAULT_SORT,
    MAX_LIMIT,
    MAX_OFFSET,
    MAX_QUERY_CHARS,
    MODES,
    RELATED_DEFAULT,
    RELATED_MAX,
    SORTS,
)
from archive.web.params import ACCEPTED, CITE_FORMATS, EXPORT_FORMATS
from archive.web.schemas import DATE_OR_EMPTY

EMPTY_IS_400 = " An empty value is a 400 naming the parameter: leave it out for the default."
DATE_ORDER = (
    " `after` must be earlier than `before` (after is inclusive, before exclusive): after >= before is a 400 "
    "naming `after`. An empty value is no bound (as the search form sends a blank date)."
)


def _query(name: str, description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema, **extra}


PARAMETERS: dict[str, dict[str, Any]] = {
    "q": _query(
        "q",
        "Search words or a question (bare words are optional and rank). Boolean: `AND`, `OR`, `NOT`, "
        "parentheses, `+required`, `-excluded`, quoted phrases (required), `title:` (in the title), `word*` (prefix). "
        "Filters may be typed inline: `source:`, `author:`, `after:YYYY-MM-DD`, `before:YYYY-MM-DD`. "
        "Malformed syntax is repaired, never an error. An empty q returns no results "
        "(unless a filter is given: then the filtered articles are listed, newest first).",
        {"type": "string", "maxLength": MAX_QUERY_CHARS},
        examples={"words": {"summary": "Words and meaning", "value": "Iran camera disconnection"}},
    ),
    "mode": _query(
        "mode",
        "keyword (BM25), semantic (embeddings) or hybrid (rank fusion)." + EMPTY_IS_400,
        {"type": "string", "enum": list(MODES), "default": DEFAULT_MODE},
    ),
    "limit": _query(
        "limit",
        f"Results per page, 1 to {MAX_LIMIT}. Values from {MAX_LIMIT + 1} to {CLAMP_CEILING} are clamped to "
        f"{MAX_LIMIT}; anything else is a 400." + EMPTY_IS_400,
        {"type": "integer", "minimum": 1, "maximum": CLAMP_CEILING, "default": DEFAULT_LIMIT},
    ),
    "offset": _query(
        "offset",
        "Results to skip (for paging; `next` and `prev` in the answer carry the neighbouring offsets)." + EMPTY_IS_400,
        {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
    ),
    "sort": _query(
        "sort",
        "relevance, newest or oldest first." + EMPTY_IS_400,
        {"type": "string", "enum": list(SORTS), "default": DEFAULT_SORT},
    ),
    "source": _query(
        "source", "Only this outlet (case-insensitive exact match). Empty: no filter.", {"type": "string"}
    ),
    "author": _query(
        "author", "Only authors containing this text (case-insensitive). Empty: no filter.", {"type": "string"}
    ),
    "after": _query("after", "Published on or after this day (UTC)." + DATE_ORDER, DATE_OR_EMPTY),
    "before": _query("before", "Published before this day (UTC, exclusive)." + DATE_ORDER, DATE_OR_EMPTY),
    "collapse": _query(
        "collapse",
        COLLAPSE_HELP + " `total` and the facets then count stories. false lists every version as a result of "
        "its own (true/false, 1/0, yes/no, on/off; anything else is a 400).",
        {"type": "boolean", "default": DEFAULT_COLLAPSE},
    ),
    "p": _query(
        "p",
        "Cite this passage (its number, `chunk_seq` of a search result): the archive permalink then ends in "
        "`#passage-<p>`. Omitted: the article as a whole." + EMPTY_IS_400,
        {"type": "integer", "minimum": 0},
    ),
}

OVERRIDES: dict[tuple[str, str], dict[str, Any]] = {
    ("pages.search_page", "format"): _query(
        "format",
        "json forces a JSON answer; any other value (or none) leaves the choice to the Accept header.",
        {"type": "string"},
    ),
    ("api.export", "format"): _query(
        "format",
        "csv (RFC 4180, a header row) or jsonl (one JSON object per line).",
        {"type": "string", "enum": list(EXPORT_FORMATS), "default": EXPORT_FORMATS[0]},
    ),
    ("api.cite", "format"): _query(
        "format",
        "ris (RIS, type NEWS), bibtex (@article, or @misc without an outlet) or csl-json (an array of one "
        "article-newspaper item).",
        {"type": "string", "enum": list(CITE_FORMATS), "default": CITE_FORMATS[0]},
    ),
    ("api.related", "limit"): _query(
        "limit",
        f"Related articles, 1 to {RELATED_MAX}." + EMPTY_IS_400,
        {"type": "integer", "minimum": 1, "maximum": RELATED_MAX, "default": RELATED_DEFAULT},
    ),
}


def query_parameters(endpoint: str, labels: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The documented query parameters of one endpoint, in the order `ACCEPTED` lists them, then (for the
    endpoints taking search parameters) the label filters `labels` (name -> `extra` field)."""
    documented = [OVERRIDES.get((endpoint, name)) or PARAMETERS[name] for name in ACCEPTED[endpoint]]
    if "q" in ACCEPTED[endpoint]:
        documented += [
            _query(
                name,
                f"Only articles whose `{field}` label (in `extra`) is this value, case-insensitive "
                f"(also typed inline as `{name}:value`; the `{name}` facet lists the values). Empty: no filter.",
                {"type": "string"},
            )
            for name, field in (labels or {}).items()
        ]
    return documented
