"""Record -> Article: field aliases, the title/date/author rules, and what goes into `extra`."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from archive.dates import parse_date
from archive.documents import DATE_RAW, Article, ReadFailure
from archive.readers.clean import clean_text, clean_title, replace_surrogates, title_from_body

ReadResult = Article | ReadFailure

# Canonical field -> accepted keys (compared case-insensitively), in priority order.
_ALIASES: dict[str, tuple[str, ...]] = {
    "uid": ("_id", "id", "uid", "guid"),
    "title": ("title", "headline"),
    "body": ("text", "body", "content", "article"),
    "published_at": ("date", "published_at", "published", "pubdate", "datetime"),
    "source": ("source", "publisher", "outlet"),
    "author": ("author", "byline", "authors"),
    "url": ("url", "link"),
    "language": ("language", "lang"),
}
_FIELD_OF_KEY = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
_RANK = {alias: rank for aliases in _ALIASES.values() for rank, alias in enumerate(aliases)}


def article_from_record(record: Mapping[str, Any], origin: str) -> Article | ReadFailure:
    """One JSON-style record (as in .json/.jsonl files, e.g. an API request body) as an Article or ReadFailure."""
    return _record_article(record, origin, None)


def _record_article(record: Mapping[str, Any], origin: str, source: str | None) -> ReadResult:
    """A JSON/CSV record (mapped keys, everything else into `extra`) as an Article."""
    fields, extra = _split_fields(record)
    body = clean_text(_as_text(fields.pop("body", None), "\n\n") or "")
    return _assemble(fields, extra, body, origin, source, _untitled_record)


def _split_fields(record: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Map known keys (case-insensitively, best-ranked non-blank alias wins) to fields; the rest is extra."""
    chosen: dict[str, tuple[int, str, Any]] = {}  # field -> (alias rank, original key, value)
    extra: dict[str, Any] = {}
    for raw_key, value in record.items():
        if _is_blank(value):
            continue
        key = str(raw_key)
        alias = key.strip().lower()
        name = _FIELD_OF_KEY.get(alias)
        if name is None:
            extra[key] = _jsonable(value)
            continue
        current = chosen.get(name)
        if current is not None and current[0] < _RANK[alias]:
            extra[key] = _jsonable(value)  # a second title/headline etc. is kept, not lost
            continue
        if current is not None:
            extra[current[1]] = _jsonable(current[2])
        chosen[name] = (_RANK[alias], key, value)
    return {name: value for name, (_, _, value) in chosen.items()}, extra


def _assemble(
    fields: dict[str, Any],
    extra: dict[str, Any],
    body: str,
    origin: str,
    source: str | None,
    untitled: Callable[[str], tuple[str, str]],
    *,
    unescape: bool = True,
) -> ReadResult:
    """Build the Article from mapped fields and a cleaned body; `untitled` derives a missing title."""
    # Every format ends here, so this is the one place lone surrogates are replaced, before any
    # title is derived: json.loads turns "\ud800" into one, and --source may carry surrogateescapes.
    fields, extra, body = _scrub(fields), _scrub(extra), replace_surrogates(body)
    source = replace_surrogates(source) if source is not None else None
    if not body:
        return ReadFailure(origin, "no text (the body is empty or only whitespace)")
    title = clean_title(_as_text(fields.get("title")) or "", unescape=unescape)
    if not title:
        title, body = untitled(body)
    raw_date = fields.get("published_at")
    published_at = parse_date(raw_date)
    if published_at is None and raw_date is not None:
        extra[DATE_RAW] = str(raw_date)  # kept so the date can be fixed later; the article still counts
    return Article(
        title=title,
        body=body,
        uid=_line(fields.get("uid")),
        source=_line(fields.get("source")) or (source.strip() if source and source.strip() else None),
        author=_author(fields.get("author")),
        url=_line(fields.get("url")),
        published_at=published_at,
        language=_line(fields.get("language")),
        extra=extra,
        origin=origin,
    )


def _scrub(value: Any) -> Any:
    """`value` with lone surrogates replaced in every string inside it, dict keys included."""
    if isinstance(value, str):
        return replace_surrogates(value)
    if isinstance(value, Mapping):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_scrub(item) for item in value)
    return value


def _untitled_record(body: str) -> tuple[str, str]:
    return title_from_body(body), body


def _author(value: Any) -> str | None:
    """Author(s) as one string; lists are joined with ", " and {"name": ...} objects understood."""
    if isinstance(value, Mapping):
        value = _get_ci(value, "name")
    if isinstance(value, (list, tuple)):
        names = [_author(item) for item in value]
        return ", ".join(name for name in names if name) or None
    return _line(value)


def _line(value: Any) -> str | None:
    """A scalar as a one-line cleaned string, or None when blank or not a scalar."""
    if isinstance(value, (list, tuple, dict)) or value is None:
        return None
    return clean_title(str(value)) or None


def _as_text(value: Any, separator: str = ", ") -> str | None:
    """A field value as text: lists (e.g. paragraphs) joined, objects rejected."""
    if value is None or isinstance(value, Mapping):
        return None
    if isinstance(value, (list, tuple)):
        parts = [_as_text(item, separator) for item in value]
        return separator.join(part for part in parts if part) or None
    return str(value)


def _get_ci(record: Mapping[str, Any], key: str) -> Any:
    """The value under `key` compared case-insensitively, or None."""
    return next((value for name, value in record.items() if str(name).strip().lower() == key), None)


def _merge_keys(*records: Mapping[str, Any]) -> dict[str, Any]:
    """Merge dicts left to right; a later key replaces an earlier one differing only in case."""
    merged: dict[str, Any] = {}
    for record in records:
        for key, value in record.items():
            if _is_blank(value):
                continue
            for old in [k for k in merged if k.lower() == str(key).lower()]:
                del merged[old]
            merged[str(key)] = value
    return merged


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, (list, tuple, dict)) and not value


def _jsonable(value: Any) -> Any:
    """Make a value JSON-serialisable (YAML gives dates; anything odd becomes its string)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(item) for item in value]
    return str(value)
