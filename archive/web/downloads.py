"""Downloads: a whole result set as CSV or JSON Lines (streamed), and one article's citation.

Export: the search runs once (`Searcher.export`), then the rows are written as the results
are hydrated, 100 at a time, so memory stays flat and the first bytes leave at once. At
most ARCHIVE_EXPORT_MAX rows; the headers say how many matched (`X-Total-Count`), how many
rows follow (`X-Export-Rows`) and whether the set was cut (`X-Export-Truncated`).

Permalinks: `/articles/<id>#passage-<N>`, where N is the passage's chunk number. It stays
valid as long as the article is neither deleted nor re-chunked (a re-ingest with new text,
or a reindex with another ARCHIVE_CHUNK_TOKENS, can move passage boundaries); the
text-fragment link of the article page (`#passage-N:~:text=start,end`) finds the same words
in browsers that support text fragments even then.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from flask import Response, request, url_for

from archive.cite import FORMATS, Reference, bibtex_key, cite
from archive.errors import BadQuery
from archive.reading import StoredArticle
from archive.reflow import display_text
from archive.search import SearchResult
from archive.web.context import searcher, web_settings
from archive.web.params import ACCEPTED, CITE_FORMATS, EXPORT_COLUMNS, EXPORT_FORMATS, choice, integer, search_request

COLUMNS = EXPORT_COLUMNS
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run a cell starting with these


def article_base() -> str:
    """Absolute URL prefix of article pages, e.g. http://host/articles/."""
    return request.url_root + "articles/"


def permalink(base: str, article_id: int, passage: int | None = None) -> str:
    """The archive's link to an article, or to one of its passages."""
    return f"{base}{article_id}" + (f"#passage-{passage}" if passage is not None else "")


def rows(results: Iterable[SearchResult], base: str) -> Iterator[dict[str, Any]]:
    """One plain dict per result, in COLUMNS order."""
    for r in results:
        yield {
            "id": r.id,
            "uid": r.uid,
            "title": r.title,
            "source": r.source,
            "author": r.author,
            "published_at": r.published_at,
            "url": r.url,
            "permalink": permalink(base, r.id, r.chunk_seq),
            "score": r.score,
            "passage": r.passage,
        }


def _cell(value: Any) -> Any:
    """A CSV cell; text a spreadsheet would take for a formula gets a leading apostrophe (OWASP's advice)."""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return "" if value is None else value


def csv_lines(items: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The header, then one CSV record per row (RFC 4180 quoting, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    yield buffer.getvalue()
    for row in items:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(row[c]) for c in COLUMNS])
        yield buffer.getvalue()


def jsonl_lines(items: Iterable[dict[str, Any]]) -> Iterator[str]:
    """One JSON object per line."""
    for row in items:
        yield json.dumps(row, ensure_ascii=False) + "\n"


def _slug(text: str, fallback: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-") or fallback


def export_response() -> Response:
    """The streamed export of the search in the query string."""
    fmt = choice(request.args, "format", EXPORT_FORMATS, "csv")
    req = search_request(request.args, web_settings().labels)
    cap = web_settings().export_max
    total, results = searcher().export(req, cap)
    stream = (csv_lines if fmt == "csv" else jsonl_lines)(rows(results, article_base()))
    response = Response(stream, mimetype=MEDIA[fmt].split(";")[0], content_type=MEDIA[fmt])
    name = f"archive-{_slug(req.q, 'export')}.{fmt}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["X-Total-Count"] = str(total)
    response.headers["X-Export-Rows"] = str(min(total, cap))
    response.headers["X-Export-Truncated"] = "true" if total > cap else "false"
    response.headers["Cache-Control"] = "no-store"
    return response


def reference(article: StoredArticle, passage: int | None = None) -> Reference:
    """What a citation of this article (and passage) says, accessed today."""
    published = article.published_at.date() if article.published_at else None
    return Reference(
        uid=article.uid,
        title=article.title,
        outlet=article.source,
        author=article.author,
        published=published,
        url=article.url,
        permalink=permalink(article_base(), article.id, passage),
        accessed=datetime.now(UTC).date(),
        language=article.language,
    )


def cited_passage(article: StoredArticle) -> int | None:
    """The `p` parameter: a passage number of this article, else a 400 naming p."""
    if "p" not in request.args:
        return None
    seqs = [p.seq for p in article.passages]
    p = integer(request.args, "p", 0, 0, max(seqs, default=0))
    if p not in seqs:
        raise BadQuery(f"p must be one of this article's passage numbers, got {p}", param="p")
    return p


def cite_response(article: StoredArticle) -> Response:
    """The citation of an article in the requested format, as a download."""
    fmt = choice(request.args, "format", CITE_FORMATS, "ris")
    ref = reference(article, cited_passage(article))
    media, extension = FORMATS[fmt]
    response = Response(cite(ref, fmt), content_type=f"{media}; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{bibtex_key(ref)}.{extension}"'
    return response


FRAGMENT_WORDS = 4  # words at each end of a text-fragment link


def text_fragment(text: str) -> str:
    """A text directive (`:~:text=start,end`) for a passage's display text: its first and last few words.

    Browsers that support text fragments scroll to and highlight that range; the others
    ignore the directive and keep the element anchor in front of it (#passage-N).
    """
    words = text.split()
    if not words:
        return ""
    if len(words) <= 2 * FRAGMENT_WORDS:
        return ":~:text=" + _fragment_term(" ".join(words))
    start, end = " ".join(words[:FRAGMENT_WORDS]), " ".join(words[-FRAGMENT_WORDS:])
    return f":~:text={_fragment_term(start)},{_fragment_term(end)}"


def _fragment_term(text: str) -> str:
    """Percent-encoded, '-' included (the directive's own syntax uses '-', ',' and '&')."""
    return quote(text, safe="").replace("-", "%2D")


def citation_links(article: StoredArticle, passage: int | None) -> dict[str, Any]:
    """The article page's citation box: permalinks (passage anchor, text fragment) and the formats."""
    base = article_base()
    links: dict[str, Any] = {"permalink": permalink(base, article.id, passage), "fragment": None}
    chosen = next((p for p in article.passages if p.seq == passage), None)
    if chosen is not None:
        shown = " ".join(display_text(article.body[a:b]) for a, b in chosen.paragraphs)
        links["fragment"] = links["permalink"] + text_fragment(shown)
    query = {} if passage is None else {"p": passage}
    links["formats"] = [
        (label, url_for("api.cite", key=article.id, format=fmt, **query))
        for fmt, label in (("ris", "RIS"), ("bibtex", "BibTeX"), ("csl-json", "CSL-JSON"))
    ]
    return links


def export_links(args: Any) -> list[tuple[str, str]]:
    """(label, url) of the export of the search in `args` (the export's own parameters only)."""
    kept = {k: v for k, v in args.items() if k in ACCEPTED["api.export"] and k != "format" and v}
    return [
        (label, url_for("api.export", format=fmt, **kept)) for fmt, label in (("csv", "CSV"), ("jsonl", "JSON Lines"))
    ]
