"""Request parameters -> SearchRequest, with 400s that name the bad parameter."""

from __future__ import annotations

from datetime import date
from typing import Mapping

from archive.errors import BadQuery
from archive.search import SearchRequest


def _int(args: Mapping[str, str], name: str, default: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadQuery(f"{name} must be an integer, got {raw[:40]!r}", param=name) from None


def _date(args: Mapping[str, str], name: str) -> date | None:
    raw = args.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadQuery(f"{name} must be a date YYYY-MM-DD, got {raw[:40]!r}", param=name) from None


def search_request(args: Mapping[str, str]) -> SearchRequest:
    """Parse and validate search parameters (q, mode, limit, offset, sort, source, author, after, before)."""
    limit = _int(args, "limit", 10)
    if limit < 1 or limit > 1000:
        raise BadQuery("limit must be between 1 and 100 (larger values are clamped to 100 up to 1000)", param="limit")
    return SearchRequest(
        q=args.get("q", ""), mode=args.get("mode") or "hybrid", limit=limit, offset=_int(args, "offset", 0),
        sort=args.get("sort") or "relevance", source=args.get("source") or None, author=args.get("author") or None,
        after=_date(args, "after"), before=_date(args, "before"),
    ).validated()
