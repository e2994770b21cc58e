"""HTML pages blueprint: the search page and the article page (JSON to API clients on /search)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from markupsafe import Markup

from archive.documents import extra_labels
from archive.errors import BadQuery, NotFound
from archive.limits import DEFAULT_COLLAPSE, DEFAULT_LIMIT, DEFAULT_MODE, DEFAULT_SORT, THREAD_ON_PAGE
from archive.query import parse_query
from archive.reading import StoredArticle, archive_overview, load_article, load_thread
from archive.reflow import display_text
from archive.search import SearchResponse
from archive.snippets import highlight, highlight_terms
from archive.web.context import search_json, searcher, the_archive, web_settings
from archive.web.downloads import citation_links, export_links
from archive.web.errors import wants_json
from archive.web.params import SEARCH_PARAMS, search_request
from archive.web.timeline import timelines

pages = Blueprint("pages", __name__)

KEPT_PARAMS = tuple(p for p in SEARCH_PARAMS if p != "offset")  # carried from page to page of results
RELATED_ON_PAGE = 8
PAGE_WINDOW = 2  # page links shown either side of the current page


def changed_params(changes: dict[str, Any]) -> dict[str, str]:
    """The current search's parameters, some changed (None or "" removes one); offset resets unless given."""
    params = {k: request.args.get(k) for k in (*KEPT_PARAMS, *web_settings().labels)}
    params.update(changes)
    return {k: str(v) for k, v in params.items() if v not in (None, "")}


def search_url(**changes: Any) -> str:
    """/search with the current parameters, some changed (`changed_params`)."""
    params = changed_params(changes)
    defaults = {"mode": DEFAULT_MODE, "sort": DEFAULT_SORT, "limit": str(DEFAULT_LIMIT), "offset": "0"}
    defaults["collapse"] = str(DEFAULT_COLLAPSE).lower()
    clean = {k: v for k, v in params.items() if v != defaults.get(k)}
    return url_for("pages.search_page", **clean)


@pages.get("/")
@pages.get("/search")
def search_page() -> Response | tuple[str, int]:
    """Search box and results; answers JSON to API clients (Accept: application/json or ?format=json)."""
    if request.path == "/search" and wants_json():
        return search_json()
    args = request.args
    q = args.get("q", "")
    error, response, req = None, None, None
    try:
        req = search_request(args, web_settings().labels)
        if q.strip():
            response = searcher().search(req)
    except BadQuery as exc:
        error = exc
    context = {
        "label_names": list(web_settings().labels),
        "q": q,
        "args": args,
        "req": req,
        "response": response,
        "error": error,
        "overview": archive_overview(the_archive()),
        "search_url": search_url,
    }
    if response is not None:
        context.update(_results_context(response))
    return render_template("search.html", **context), 400 if error else 200


def _results_context(response: SearchResponse) -> dict[str, Any]:
    """Timeline, pagination, active filters and empty-state suggestions for a result page."""
    page = response.offset // response.limit + 1
    pages_total = max(1, -(-response.total // response.limit))
    window = range(max(1, page - PAGE_WINDOW), min(pages_total, page + PAGE_WINDOW) + 1)
    filters = {k: v for k, v in response.filters.items() if v}
    return {
        "timelines": timelines(response.facets.get("date", []), response.date_bucket),
        "page": page,
        "pages_total": pages_total,
        "page_window": list(window),
        "active_filters": filters,
        "export_links": export_links(request.args) if response.total else [],
        "export_cap": web_settings().export_max,  # an export holds at most this many rows (the label says so)
        "suggestions": _suggestions(response, filters) if not response.results else [],
    }


def _suggestions(response: SearchResponse, filters: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, url) ways out of an empty result page, each with how many results it finds; none that finds nothing.

    A way out that leads to another empty page is a dead end (`bitcoin blockchain` finds nothing by meaning and
    holds no word of the 1987 archive either), so each is counted by running it (an empty page only; one search
    per way out, at most five) and left out when its count is 0.
    """
    if response.total and response.offset >= response.total:
        return [("Go to the first page of results", search_url(offset=None))]
    names = {"source": "source", "author": "author", "after": "start date", "before": "end date"}
    ways: list[tuple[str, dict[str, Any]]] = []
    for key, value in filters.items():
        if (request.args.get(key) or "").strip():
            ways.append((f"Remove the {names.get(key, key)} filter ({value})", {key: None}))
    if len(filters) > 1 and any((request.args.get(k) or "").strip() for k in filters):
        ways.append(
            ("Remove all filters", dict.fromkeys(("source", "author", "after", "before", *web_settings().labels)))
        )
    if response.mode == "keyword":
        ways.append(("Search by meaning as well (hybrid mode)", {"mode": None}))
    else:
        ways.append(("Look for the exact words only (keyword mode)", {"mode": "keyword"}))
    if response.mode == "semantic" or '"' in response.query:
        ways.append(
            ("Try hybrid mode without quotes or exclusions", {"mode": None, "q": response.query.replace('"', "")})
        )
    out = []
    for label, changes in ways:
        found = _count(changes)
        if found:
            out.append((f"{label}: {found:,} {'result' if found == 1 else 'results'}", search_url(**changes)))
    return out


def _count(changes: dict[str, Any]) -> int:
    """How many results the current search finds with some parameters changed (as `search_url` changes them)."""
    try:
        req = search_request(changed_params(changes), web_settings().labels)
        return searcher().search(replace(req, limit=1, offset=0)).total
    except BadQuery:
        return 0


@pages.get("/articles/<path:key>")
def article_page(key: str) -> str:
    """Full text split into passages, the matched one anchored and highlighted; metadata; related coverage."""
    article = load_article(the_archive(), key)
    q = request.args.get("q", "")
    matched = _int_or_none(request.args.get("p"))
    terms = _terms(q)
    passages = [
        {
            "seq": p.seq,
            "matched": p.seq == matched,
            "runs_on": p.runs_on,
            "paragraphs": [_mark(display_text(article.body[a:b]), terms) for a, b in p.paragraphs],
        }
        for p in article.passages
    ]
    thread = load_thread(the_archive(), article.thread["id"]) if article.thread else None
    near = thread.around(article.id, THREAD_ON_PAGE) if thread else []
    shown = {a.id for a in near}  # listed under "This story over time": not repeated as related coverage
    try:
        related = searcher().related(article.uid, limit=RELATED_ON_PAGE + len(shown))
        related = [r for r in related if r.id not in shown][:RELATED_ON_PAGE]
    except NotFound:
        related = None
    return render_template(
        "article.html",
        article=article,
        passages=passages,
        q=q,
        matched=matched,
        related=related,
        thread=thread,
        thread_near=near,
        label_links=_label_links(article, web_settings().labels),
        cite=citation_links(article, matched if any(p.seq == matched for p in article.passages) else None),
    )


@pages.get("/threads/<key>")
def thread_page(key: str) -> str:
    """A story thread: its articles on a timeline, oldest first, grouped by day."""
    thread = load_thread(the_archive(), key)
    days: dict[str, list[Any]] = {}
    for item in thread.articles:
        days.setdefault(item.published_at.date().isoformat() if item.published_at else "", []).append(item)
    return render_template("thread.html", thread=thread, days=list(days.items()))


def _terms(q: str) -> list[str]:
    if not q.strip():
        return []
    try:
        return highlight_terms(parse_query(q))
    except BadQuery:
        return []


def _mark(text: str, terms: list[str]) -> Markup:
    """Escaped text with the query's words in <mark> (archive.snippets.highlight escapes first)."""
    return Markup(highlight(text, terms))


def _int_or_none(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isascii() and raw.isdigit() and len(raw) < 9 else None


def _label_links(article: StoredArticle, labels: dict[str, str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The article's labels of the declared label fields, as (field heading, [(value, url of the articles
    with that label)]). Other `extra` fields are bookkeeping of the source data (dataset splits, ids):
    the page leaves them out (the JSON API keeps them)."""
    out = []
    for name, field in labels.items():
        values = sorted({v for f, v in extra_labels({field: article.extra.get(field)}) if f == field})
        if values:
            links = [(v, url_for("pages.search_page", q=f'{name}:"{v}"')) for v in values]
            out.append((field.replace("_", " "), links))
    return out


__all__ = ["pages", "search_url"]
