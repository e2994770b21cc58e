"""A search as asked: the query string plus mode, paging, sort and explicit filters, validated once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

from archive import limits
from archive.errors import BadQuery
from archive.query import Query, parse_query


@dataclass(frozen=True)
class SearchRequest:
    """A search as asked; `validated()` checks it and clamps the limit."""

    q: str
    mode: str = limits.DEFAULT_MODE
    limit: int = limits.DEFAULT_LIMIT
    offset: int = 0
    sort: str = limits.DEFAULT_SORT
    source: str | None = None
    author: str | None = None
    after: date | None = None
    before: date | None = None
    labels: tuple[tuple[str, str], ...] = ()  # (label filter name, value), e.g. ("topic", "crude")
    collapse: bool = limits.DEFAULT_COLLAPSE

    def validated(self) -> SearchRequest:
        """Check mode/sort/paging/dates; limit is clamped to limits.MAX_LIMIT."""
        if self.mode not in limits.MODES:
            raise BadQuery(f"mode must be one of {', '.join(limits.MODES)}", param="mode")
        if self.sort not in limits.SORTS:
            raise BadQuery(f"sort must be one of {', '.join(limits.SORTS)}", param="sort")
        if self.limit < 1:
            raise BadQuery("limit must be a positive integer", param="limit")
        if self.offset < 0:
            raise BadQuery("offset must be zero or a positive integer", param="offset")
        if self.offset > limits.MAX_OFFSET:
            raise BadQuery(f"offset must be at most {limits.MAX_OFFSET}", param="offset")
        if len(self.q) > limits.MAX_QUERY_CHARS:
            raise BadQuery(f"q is longer than {limits.MAX_QUERY_CHARS:,} characters", param="q")
        limits.check_date_range(self.after, self.before)
        return SearchRequest(**{**asdict(self), "limit": min(self.limit, limits.MAX_LIMIT)})

    def query(self, label_fields: Mapping[str, str] | None = None) -> Query:
        """Parse q; explicit request filters win over filters typed in q. `label_fields`: the label filter
        names and the `extra` fields they read (`Settings.labels`); an unknown name is a 400."""
        label_fields = label_fields or {}
        query = parse_query(self.q, label_fields)
        changes: dict[str, Any] = {
            k: v
            for k, v in {
                "source": self.source,
                "author": self.author,
                "after": self.after,
                "before": self.before,
            }.items()
            if v not in (None, "")
        }
        if self.labels:
            explicit: dict[str, str] = {}
            for name, value in self.labels:
                if name not in label_fields:
                    raise BadQuery(f"unknown label filter {name!r}; known: {', '.join(label_fields)}", param=name)
                if value.strip():
                    explicit[label_fields[name]] = value.strip().lower()[: limits.MAX_LABEL_CHARS]
            typed = [(f, v) for f, v in query.labels if f not in explicit]
            changes["labels"] = (*typed, *explicit.items())
        if changes:
            query = replace(query, **changes)
        limits.check_date_range(query.after, query.before)
        return query
