"""What every view needs: the process-wide archive and searcher built by `create_app`, and the search JSON."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

from flask import Response, current_app, jsonify, request

from archive.archive import Archive
from archive.config import Settings
from archive.errors import Busy
from archive.limits import MAX_OFFSET
from archive.search import Searcher
from archive.web.params import search_request


def the_archive() -> Archive:
    """The process-wide Archive built by create_app."""
    return current_app.extensions["archive"]


def searcher() -> Searcher:
    """The process-wide Searcher built by create_app."""
    return current_app.extensions["searcher"]


def web_settings() -> Settings:
    """The settings deciding the web behaviour (API key, rate limit, body limit)."""
    return current_app.extensions["settings"]


def search_json() -> Response:
    """Run the search described by the request's query string and return the JSON envelope.

    Beside the response: `took_ms` (the search's own time, as Elasticsearch's `took`) and
    `next`/`prev`, the root-relative URLs of the neighbouring pages (this request's path and
    parameters with `offset` moved by `limit`), null at either end.
    """
    started = time.perf_counter()
    response = searcher().search(search_request(request.args, web_settings().labels))
    took = round((time.perf_counter() - started) * 1000, 1)
    body = response.as_dict()
    return jsonify({"ok": True, **body, "took_ms": took, **page_links(response.offset, response.limit, response.total)})


def page_links(offset: int, limit: int, total: int) -> dict[str, str | None]:
    """{"next": url | None, "prev": url | None} for a page at `offset` of `limit` results out of `total`."""
    after = offset + limit
    following = after if after < total and after <= MAX_OFFSET else None
    previous = max(0, min(offset - limit, _last_page(total, limit))) if offset > 0 else None
    return {"next": _with_offset(following, limit), "prev": _with_offset(previous, limit)}


def _last_page(total: int, limit: int) -> int:
    return max(0, (total - 1) // limit * limit)


def _with_offset(offset: int | None, limit: int) -> str | None:
    if offset is None:
        return None
    args = [(k, v) for k, v in request.args.items(multi=True) if k not in ("offset", "limit")]
    if "limit" in request.args:
        args.append(("limit", str(limit)))  # the limit actually used (a clamped 500 reads 100)
    if offset:
        args.append(("offset", str(offset)))
    return request.path + ("?" + urlencode(args) if args else "")


WRITE_RETRY_SECONDS = 5


@contextmanager
def write_slot() -> Iterator[None]:
    """The server's single write slot: a write arriving while another runs gets 503 + Retry-After at once.

    Writes are serialised anyway (the archive's write lock); refusing instead of queueing keeps
    every other request thread free for readers (docs/operations.md, "Writes over HTTP").
    """
    slot = current_app.extensions["write_slot"]
    if not slot.acquire(blocking=False):
        raise Busy("another write is in progress on this server; retry later", retry_after=WRITE_RETRY_SECONDS)
    try:
        yield
    finally:
        slot.release()
