"""One reader per file format, the suffix -> reader table, and the per-file dispatch.

A reader raises `_Unreadable` (or anything else) for a problem with the whole file; `_read_file`
turns that into a ReadFailure. A problem with one record is yielded as a ReadFailure in place.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from frontmatter.default_handlers import YAMLHandler
from yaml import YAMLError

from archive.documents import ReadFailure
from archive.readers.clean import _title_from_first_line, clean_text, clean_title
from archive.readers.decode import _SNIFF_BYTES, _binary_reason, _decode, _lines, _Unreadable
from archive.readers.fields import (
    _ALIASES,
    _FIELD_OF_KEY,
    ReadResult,
    _assemble,
    _get_ci,
    _merge_keys,
    _record_article,
    _split_fields,
    _untitled_record,
)

_FileReader = Callable[[Path, str, "str | None"], Iterator[ReadResult]]

_SIDECAR = ".meta.json"

# An HTML page's main text needs this many words outside link texts: menus that slip through
# extraction ("Home World Contact") are nothing but link texts.
_MIN_MAIN_WORDS = 5
# A word: a run of letters/digits, but each Chinese/Japanese character counts alone (no spaces there).
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # kana and ideographs
_WORD = re.compile(f"[{_CJK}]|[^\\W{_CJK}]+")


def _read_file(path: Path, source: str | None) -> Iterator[ReadResult]:
    """Dispatch on suffix and turn any problem with the whole file into a ReadFailure."""
    origin = str(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        supported = ", ".join(sorted(_READERS))
        yield ReadFailure(origin, f"unsupported file type {path.suffix or '(none)'!r}; supported: {supported}")
        return
    try:
        yield from reader(path, origin, source)
    except _Unreadable as exc:
        yield ReadFailure(origin, str(exc))
    except OSError as exc:
        yield ReadFailure(origin, f"cannot read file: {exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - the contract is "never raises for bad input"
        yield ReadFailure(origin, f"unexpected error while reading: {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- format readers


def _read_text(path: Path, origin: str, source: str | None) -> Iterator[ReadResult]:
    """A .txt/.md file is one article; metadata from YAML front matter, then a sidecar."""
    text = _decode(path.read_bytes())
    front, text = _front_matter(text)
    meta = _merge_keys(_sidecar(path), front)  # front matter wins over the sidecar
    fields, extra = _split_fields(meta)
    fields.pop("body", None)  # the file's own text is the body
    yield _assemble(fields, extra, clean_text(text), origin, source, _title_from_first_line)


def _read_html(path: Path, origin: str, source: str | None) -> Iterator[ReadResult]:
    """An HTML page is one article: main text and metadata extracted by trafilatura."""
    # trafilatura pulls in lxml, htmldate, justext...: imported only when HTML is actually read.
    import trafilatura
    from trafilatura.utils import load_html

    data = path.read_bytes()
    if not data.strip():
        raise _Unreadable("empty file")
    if not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        reason = _binary_reason(data[:_SNIFF_BYTES])
        if reason:
            raise _Unreadable(reason)
    tree = load_html(data)  # honours <meta charset>, unlike a plain decode
    if tree is None:
        raise _Unreadable("not an HTML document")
    # htmldate (inside trafilatura) keeps only the day; the page's own meta tag keeps the time.
    published = _html_published_time(tree)
    links = _link_texts(tree)  # before extraction, which may prune the tree
    # favor_precision: a page of only menus and footers mostly yields nothing rather than "Home World".
    document = trafilatura.bare_extraction(
        tree, with_metadata=True, favor_precision=True, include_comments=False, include_images=False
    )
    info: dict[str, Any] = {}
    if document is not None:
        info = document.as_dict() if hasattr(document, "as_dict") else dict(document)
    # lxml has already decoded entities: decoding again would turn a literal "&lt;" into "<".
    body = clean_text(info.get("text") or "", unescape=False)
    title = clean_title(info.get("title") or "", unescape=False)
    # trafilatura keeps the <h1> as the first line of the text; it is the title, not the body.
    first, _, rest = body.partition("\n")
    if title and clean_title(first, unescape=False) == title and rest.strip():
        body = rest.strip()
    if not body or _main_words(body, links) < _MIN_MAIN_WORDS:
        yield ReadFailure(origin, "no main text found")
        return
    record: dict[str, Any] = {
        "title": title,
        "author": info.get("author"),
        "url": info.get("url"),
        "source": info.get("sitename"),
        "date": published or info.get("date"),
        "language": info.get("language"),
        **{key: info.get(key) for key in ("description", "hostname", "categories", "tags")},
    }
    fields, extra = _split_fields(_merge_keys(record, _sidecar(path)))  # a sidecar corrects extraction
    fields.pop("body", None)
    yield _assemble(fields, extra, body, origin, source, _untitled_record, unescape=False)


def _read_json(path: Path, origin: str, source: str | None) -> Iterator[ReadResult]:
    """A .json file: one object, a list of objects, or an object with an `articles` list."""
    text = _decode(path.read_bytes())
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and "\n" in text.strip():
            # Several objects one per line: JSON Lines under a .json name; read it as such.
            # Split on \n only: JSON strings may legally hold raw U+2028, which splitlines() would cut.
            yield from _json_lines(text.split("\n"), origin, source)
            return
        raise _Unreadable(_json_error(exc)) from None
    except (ValueError, RecursionError) as exc:
        raise _Unreadable(_json_error(exc)) from None
    if isinstance(data, dict):
        articles = _get_ci(data, "articles")
        if not isinstance(articles, list):
            yield _record_article(data, origin, source)
            return
        data = articles
    if not isinstance(data, list):
        raise _Unreadable(f"JSON holds {_json_kind(data)}; expected an object or a list of objects")
    if not data:
        raise _Unreadable("no records (empty list)")
    for index, record in enumerate(data):
        where = f"{origin}:{index}"  # the 0-based index in the array
        if isinstance(record, dict):
            yield _record_article(record, where, source)
        else:
            yield ReadFailure(where, f"record is {_json_kind(record)}, expected an object")


def _read_jsonl(path: Path, origin: str, source: str | None) -> Iterator[ReadResult]:
    """JSON Lines: one object per line, streamed; a bad line fails alone."""
    yield from _json_lines(_lines(path), origin, source)


def _json_lines(lines: Iterable[str], origin: str, source: str | None) -> Iterator[ReadResult]:
    """Parse numbered JSON lines into articles; blank lines are skipped."""
    seen_any = False
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        seen_any = True
        where = f"{origin}:{lineno}"
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield ReadFailure(where, _json_error(exc))
            continue
        if isinstance(record, dict):
            yield _record_article(record, where, source)
        else:
            yield ReadFailure(where, f"line holds {_json_kind(record)}, expected a JSON object")
    if not seen_any:
        raise _Unreadable("empty file")


def _read_csv(path: Path, origin: str, source: str | None) -> Iterator[ReadResult]:
    """CSV with a header row, streamed; origin is the file line where each record starts."""
    # Article bodies easily exceed csv's default 128 KiB field limit.
    csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))
    lines = _EndAware(_lines(path))
    first = next(lines, "")
    rows = csv.reader(itertools.chain([first], lines), delimiter=_delimiter(first))
    header: list[str] | None = None
    line_before = rows_seen = 0
    try:
        for row in rows:
            start, line_before = line_before + 1, rows.line_num
            if lines.ended:
                # csv (not strict) hands out a field still open at the end of the input as if it had
                # closed: only an unterminated quote makes a row need more input than there is. The
                # open field is the row's last; it holds every line from its opening quote on.
                opened = rows.line_num - row[-1].count("\n") + row[-1].endswith("\n")
                reason = f"unterminated quote starting at line {opened}; rest of file skipped"
                yield ReadFailure(f"{origin}:{start}", reason)
                return
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip() for cell in row]
                _require_text_column(header)
                continue
            where = f"{origin}:{start}"
            rows_seen += 1
            if len(row) > len(header):
                yield ReadFailure(where, f"row has {len(row)} fields but the header has {len(header)}")
                continue
            record = {key: value for key, value in zip(header, row, strict=False) if key and value.strip()}
            yield _record_article(record, where, source)
    except csv.Error as exc:
        # The csv module cannot resynchronise after a broken row; report where and stop.
        yield ReadFailure(f"{origin}:{line_before + 1}", f"malformed CSV ({exc}); rest of file skipped")
        return
    if header is None:
        raise _Unreadable("empty file")
    if not rows_seen:
        raise _Unreadable("no records (only a header row)")


class _EndAware:
    """An iterator over `items` that notes when they have run out (see `_read_csv`)."""

    def __init__(self, items: Iterable[str]) -> None:
        self._items = iter(items)
        self.ended = False

    def __iter__(self) -> _EndAware:
        return self

    def __next__(self) -> str:
        try:
            return next(self._items)
        except StopIteration:
            self.ended = True
            raise


_READERS: dict[str, _FileReader] = {
    ".txt": _read_text,
    ".md": _read_text,
    ".html": _read_html,
    ".htm": _read_html,
    ".json": _read_json,
    ".jsonl": _read_jsonl,
    ".ndjson": _read_jsonl,
    ".csv": _read_csv,
}
SUPPORTED_SUFFIXES = frozenset(_READERS)


# --------------------------------------------------------------------------- format helpers


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split YAML front matter (`---` ... `---` at the very start) from the text."""
    handler = YAMLHandler()
    if not handler.detect(text):
        return {}, text
    try:
        raw, content = handler.split(text)
    except ValueError:  # an opening `---` without a closing one: a rule, not front matter
        return {}, text
    try:
        meta = handler.load(raw)
    except YAMLError as exc:
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        mark = getattr(exc, "problem_mark", None)
        where = f" (front matter line {mark.line + 1})" if mark is not None else ""
        raise _Unreadable(f"malformed front matter: {problem}{where}") from None
    if meta is None:
        return {}, content
    if not isinstance(meta, dict):
        raise _Unreadable("malformed front matter: expected `key: value` lines")
    return meta, content


def _sidecar(path: Path) -> dict[str, Any]:
    """Metadata from `<file>.meta.json` next to the file, or {} when there is none."""
    sidecar = path.with_name(path.name + _SIDECAR)
    if not sidecar.is_file():
        return {}
    try:
        data = json.loads(_decode(sidecar.read_bytes()))
    except _Unreadable as exc:
        raise _Unreadable(f"sidecar {sidecar.name}: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise _Unreadable(f"sidecar {sidecar.name}: {_json_error(exc)}") from None
    if not isinstance(data, dict):
        raise _Unreadable(f"sidecar {sidecar.name} holds {_json_kind(data)}, expected an object")
    return data


def _html_published_time(tree: Any) -> str | None:
    """The publication timestamp from the page's meta tags, if any."""
    for expression in (
        "//meta[@property='article:published_time' or @name='article:published_time']/@content",
        "//meta[@property='og:published_time' or @itemprop='datePublished']/@content",
        "//time[@itemprop='datePublished']/@datetime",
        "//meta[@name='pubdate' or @name='publishdate' or @name='dc.date' or @name='DC.date']/@content",
    ):
        for value in tree.xpath(expression):
            if str(value).strip():
                return str(value).strip()
    return None


def _link_texts(tree: Any) -> set[str]:
    """The whitespace-normalised texts of the page's links."""
    return {" ".join("".join(link.itertext()).split()) for link in tree.iter("a")} - {""}


def _main_words(body: str, links: set[str]) -> int:
    """How many words of `body` are not part of a link text (the page's own text, not its menus)."""
    text = " ".join(body.split())
    # Only links that occur in the body, longest first so "World news" wins over "World".
    present = sorted((link for link in links if link in text), key=len, reverse=True)
    if present:
        alternatives = "|".join(re.escape(link) for link in present)
        text = re.sub(rf"(?<!\w)(?:{alternatives})(?!\w)", " ", text)
    return len(_WORD.findall(text))


def _delimiter(header_line: str) -> str:
    """Guess the delimiter from the header line: the most frequent of , ; tab |."""
    counts = {sep: header_line.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _require_text_column(header: list[str]) -> None:
    if not any(_FIELD_OF_KEY.get(name.lower()) == "body" for name in header):
        expected = ", ".join(_ALIASES["body"])
        found = ", ".join(name for name in header if name) or "(none)"
        raise _Unreadable(f"no text column (expected one of: {expected}; found: {found})")


def _json_error(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "invalid JSON: nested too deeply"
    return f"invalid JSON: {exc}"


def _json_kind(value: Any) -> str:
    names = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number", dict: "an object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
