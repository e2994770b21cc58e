"""Request parameters -> SearchRequest, with 400s that name the bad parameter; the parameters each endpoint takes.

`ACCEPTED` is the one declaration of which query parameters each JSON endpoint reads; any
other parameter is a 400 naming it and listing the valid ones (`check_known`), as
Elasticsearch does, so a misspelt `page=2` or `offest=10` never silently returns page 1.
The HTML pages are not checked (a browser's form may carry anything); /search is checked
when it answers JSON.


Empty values: a choice or a number given empty (`mode=`, `limit=`) is a 400, as the OpenAPI
document's enum and integer schemas say (leave it out for the default); an empty date or text
filter (`after=`, `source=`) is no filter, which the document allows, because the search form's
blank date and text fields send exactly that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date

from archive import limits
from archive.errors import BadQuery
from archive.search import SearchRequest

SEARCH_PARAMS: tuple[str, ...] = (
    "q",
    "mode",
    "limit",
    "offset",
    "sort",
    "source",
    "author",
    "after",
    "before",
    "collapse",
)
TRUE_VALUES: tuple[str, ...] = ("true", "1", "yes", "on")
FALSE_VALUES: tuple[str, ...] = ("false", "0", "no", "off")
EXPORT_FORMATS: tuple[str, ...] = ("csv", "jsonl")
EXPORT_COLUMNS: tuple[str, ...] = (
    "id",
    "uid",
    "title",
    "source",
    "author",
    "published_at",
    "url",
    "permalink",
    "score",
    "passage",
)  # one export row per article, in this order
CITE_FORMATS: tuple[str, ...] = ("ris", "bibtex", "csl-json")
# endpoint -> the query parameters it reads (only JSON answers are checked; see the module docstring)
ACCEPTED: dict[str, tuple[str, ...]] = {
    "api.search": SEARCH_PARAMS,
    "pages.search_page": (*SEARCH_PARAMS, "format"),  # format=json asks for JSON
    "api.export": (*[p for p in SEARCH_PARAMS if p not in ("limit", "offset")], "format"),  # the whole set
    "api.get_article": (),
    "api.related": ("limit",),
    "api.get_thread": (),
    "api.cite": ("format", "p"),
    "api.add_articles": (),
    "api.delete": (),
    "api.health": (),
    "api.openapi": (),
    **{
        f"saved.{name}": ()
        for name in ("api_list", "api_create", "api_get", "api_delete", "api_seen", "api_atom", "api_json_feed")
    },
    **{f"batches.{name}": () for name in ("api_list", "api_create", "api_get", "api_csv", "api_delete", "api_resume")},
}

_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def integer(args: Mapping[str, str], name: str, default: int, low: int, high: int, hint: str = "") -> int:
    """An integer parameter in [low, high] (ASCII digits only), else BadQuery naming it."""
    raw = args.get(name)
    if raw is None:
        return default
    raw = raw.strip()
    if not raw:
        raise BadQuery(f"{name} is empty: leave it out for the default ({default}) or give an integer", param=name)
    if not _INTEGER.fullmatch(raw):
        raise BadQuery(f"{name} must be an integer, got {raw[:40]!r}", param=name)
    value = int(raw)
    if not low <= value <= high:
        raise BadQuery(f"{name} must be between {low} and {high}{hint}, got {value}", param=name)
    return value


def day(args: Mapping[str, str], name: str) -> date | None:
    """A YYYY-MM-DD parameter, else BadQuery naming it."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        if not _DATE.fullmatch(raw):
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise BadQuery(f"{name} must be a date YYYY-MM-DD, got {raw[:40]!r}", param=name) from None


def choice(args: Mapping[str, str], name: str, options: tuple[str, ...], default: str) -> str:
    """One of `options`, else BadQuery naming the parameter."""
    return limits.one_of(name, (args.get(name) or "") if name in args else None, options, default)


def flag(args: Mapping[str, str], name: str, default: bool) -> bool:
    """A boolean parameter (true/false, 1/0, yes/no, on/off), else BadQuery naming it."""
    if name not in args:
        return default
    raw = (args.get(name) or "").strip().lower()
    if raw in TRUE_VALUES:
        return True
    if raw in FALSE_VALUES:
        return False
    raise BadQuery(f"{name} must be true or false, got {raw[:40]!r}", param=name)


def search_request(args: Mapping[str, str], label_names: Iterable[str] = ()) -> SearchRequest:
    """Parse and validate search parameters (q, mode, limit, offset, sort, source, author, after, before, collapse,
    and the label filters `label_names`, e.g. topic=crude)."""
    limit = integer(
        args,
        "limit",
        limits.DEFAULT_LIMIT,
        1,
        limits.CLAMP_CEILING,
        f" (values above {limits.MAX_LIMIT} are clamped to {limits.MAX_LIMIT})",
    )
    return SearchRequest(
        q=args.get("q", ""),
        mode=choice(args, "mode", limits.MODES, limits.DEFAULT_MODE),
        limit=min(limit, limits.MAX_LIMIT),
        offset=integer(args, "offset", 0, 0, limits.MAX_OFFSET),
        sort=choice(args, "sort", limits.SORTS, limits.DEFAULT_SORT),
        source=(args.get("source") or "").strip() or None,
        author=(args.get("author") or "").strip() or None,
        after=day(args, "after"),
        before=day(args, "before"),
        labels=tuple((name, args[name].strip()) for name in label_names if (args.get(name) or "").strip()),
        collapse=flag(args, "collapse", limits.DEFAULT_COLLAPSE),
    ).validated()


def related_limit(args: Mapping[str, str]) -> int:
    """The `limit` of a related-coverage request (1..RELATED_MAX)."""
    return integer(args, "limit", limits.RELATED_DEFAULT, 1, limits.RELATED_MAX)


def accepted(endpoint: str, label_names: Iterable[str] = ()) -> tuple[str, ...]:
    """The query parameters `endpoint` reads: `ACCEPTED`, and for the endpoints taking search parameters the
    label filters `label_names` (`Settings.labels`)."""
    names = ACCEPTED[endpoint]
    return (*names, *label_names) if "q" in names else names


def check_known(endpoint: str | None, args: Mapping[str, str], label_names: Iterable[str] = ()) -> None:
    """BadQuery naming the first parameter `endpoint` does not read, with the list of those it does."""
    if (endpoint or "") not in ACCEPTED:
        return
    accepted_names = accepted(endpoint or "", label_names)
    for name in args:
        if name not in accepted_names:
            valid = ", ".join(accepted_names) if accepted_names else "none"
            raise BadQuery(f"unknown parameter {name[:40]!r}; valid parameters: {valid}", param=name[:40])
