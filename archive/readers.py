"""Files -> Article: .txt/.md, .html/.htm, .json, .jsonl/.ndjson and .csv; bad input becomes ReadFailure.

Reading never raises for bad input: every unreadable file or record is yielded as a
`ReadFailure(origin, reason)` and reading carries on with the next record or file.

Decisions worth knowing:
- origin is "path" for one-article files, "path:LINE" for JSON Lines and CSV (the 1-based file
  line where the record starts) and "path:INDEX" for a JSON array (0-based index).
- Encoding: UTF-8 (with or without BOM), UTF-16 when it has a BOM; otherwise, only if the file has
  no NUL bytes and is not mostly control bytes, cp1252 and then latin-1 (which accepts anything).
  NUL bytes without a UTF-16 BOM mean "binary file". JSONL/CSV are decoded line by line.
- Title when a record has none: the first sentence of the body, cut to ~120 characters at a word
  boundary. In .txt/.md the first line is the title instead (and leaves the body) when it is a
  Markdown heading, or shorter than 150 characters, followed by more text, and not a hard-wrapped
  line running on into the next.
- A record with an empty or whitespace-only body is a ReadFailure ("no text").
"""

from __future__ import annotations

import codecs
import csv
import html
import itertools
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from frontmatter.default_handlers import YAMLHandler
from yaml import YAMLError

from archive.dates import parse_date
from archive.documents import Article, ReadFailure

__all__ = ["SUPPORTED_SUFFIXES", "article_from_record", "clean_text", "clean_title", "estimate_records", "read_paths",
           "title_from_body"]

ReadResult = Article | ReadFailure
_FileReader = Callable[[Path, str, "str | None"], Iterator[ReadResult]]

TITLE_LIMIT = 120          # derived titles are cut at a word boundary near this length
TITLE_LINE_LIMIT = 150     # a first line shorter than this may be a .txt file's title
_SNIFF_BYTES = 64 * 1024   # how much of a streamed file is checked for binary content
_SIDECAR = ".meta.json"

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


class _Unreadable(Exception):
    """A whole file cannot be read; the message is the user-facing reason."""


# --------------------------------------------------------------------------- public API


def read_paths(paths: Iterable[str | Path], source: str | None = None) -> Iterator[Article | ReadFailure]:
    """Yield an Article or ReadFailure per record in the given files and folders (lazily).

    Folders are walked recursively in name order; hidden files and folders (".name") and
    symlinked folders are skipped, as are files with an unsupported suffix and sidecar
    files (`<file>.meta.json` next to an existing `<file>`). A file named explicitly with an
    unsupported suffix is a ReadFailure. A file reached twice is read once.
    `source` (the CLI's `--source`) only fills in the outlet of records that name none:
    a record's own source/publisher/outlet always wins.
    """
    for item in _files(paths):
        if isinstance(item, ReadFailure):
            yield item
        else:
            yield from _read_file(item, source)


def estimate_records(paths: Iterable[str | Path]) -> int:
    """About how many records `read_paths` will yield, found quickly (for a progress bar's ETA).

    Counts the non-blank lines of JSON Lines and CSV files (minus a CSV header) and one
    record per other file; a JSON array counts as one. Never raises.
    """
    return sum(_records_in(item) for item in _files(paths) if not isinstance(item, ReadFailure))


def _files(paths: Iterable[str | Path]) -> Iterator[Path | ReadFailure]:
    """The files behind the given paths, each once, or why a path cannot be used."""
    seen: set[Path] = set()
    for given in paths:
        if not str(given).strip():  # Path("") would silently mean the current folder
            yield ReadFailure(repr(str(given)), "empty path")
            continue
        for item in _expand(Path(given)):
            if isinstance(item, ReadFailure):
                yield item
                continue
            key = _identity(item)
            if key not in seen:
                seen.add(key)
                yield item


def _records_in(path: Path) -> int:
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".csv"):
        return 1
    try:
        with path.open("rb") as fh:
            lines = sum(1 for line in fh if line.strip())
    except OSError:
        return 1
    return max(lines - (suffix == ".csv"), 1)


def clean_text(text: str, *, unescape: bool = True) -> str:
    """Unescape entities, drop control characters, normalise newlines; keep paragraph breaks."""
    if unescape:
        text = _unescape(text)
    text = _NEWLINES.sub("\n", text)
    text = _CONTROL.sub("", text)
    text = _TRAILING_SPACE.sub("", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def clean_title(title: str, *, unescape: bool = True) -> str:
    """Unescape entities, drop control characters and collapse whitespace in a title."""
    return " ".join(_CONTROL.sub(" ", _unescape(title) if unescape else title).split())


def title_from_body(body: str) -> str:
    """Derive a title: the first sentence of the first paragraph, cut at a word boundary."""
    paragraph = " ".join(body.split("\n\n", 1)[0].split())
    end = _SENTENCE_END.search(paragraph)
    return _truncate(paragraph[: end.end()] if end else paragraph, TITLE_LIMIT)


# --------------------------------------------------------------------------- walking


def _expand(path: Path) -> Iterator[Path | ReadFailure]:
    """Turn one given path into the files to read (or a failure if it cannot be used)."""
    origin = str(path)
    try:
        if path.is_dir():
            yield from _walk(path)
        elif path.is_file():
            if not _is_sidecar(path):
                yield path
        elif path.exists():
            yield ReadFailure(origin, "not a regular file")
        else:
            yield ReadFailure(origin, "no such file or directory")
    except OSError as exc:
        yield ReadFailure(origin, f"cannot access: {exc.strerror or exc}")


def _walk(folder: Path) -> Iterator[Path | ReadFailure]:
    """Yield supported files under `folder`, depth first in name order, skipping hidden names."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        yield ReadFailure(str(folder), f"cannot list folder: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = folder / entry.name
        # Symlinked folders are not followed: they can loop back on themselves.
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(path)
        elif entry.is_file() and path.suffix.lower() in _READERS and not _is_sidecar(path):
            yield path


def _is_sidecar(path: Path) -> bool:
    """True for `<file>.meta.json` when `<file>` exists: it is metadata, not an article."""
    name = path.name
    if not name.lower().endswith(_SIDECAR) or len(name) == len(_SIDECAR):
        return False
    return path.with_name(name[: -len(_SIDECAR)]).is_file()


def _identity(path: Path) -> Path:
    """A key under which the same file named twice (relative, absolute, via folder) compares equal."""
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


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


# --------------------------------------------------------------------------- bytes -> text


def _binary_reason(head: bytes) -> str | None:
    """Why `head` (the start of a file) is not text, or None if it looks like text."""
    if b"\x00" in head:
        return "binary file (contains NUL bytes), not text"
    controls = sum(head.count(bytes([c])) for c in (*range(1, 9), *range(14, 32)))
    if head and controls * 20 > len(head):  # >5% control bytes: binary even without NULs
        return "binary file (mostly control bytes), not text"
    return None


def _decode(data: bytes) -> str:
    """Decode a whole file: UTF-16 with BOM, UTF-8 (BOM optional), else cp1252/latin-1 if not binary."""
    if not data.strip():
        raise _Unreadable("empty file")
    # UTF-16 is real text despite its NUL bytes, but only recognisable by its BOM.
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise _Unreadable("not valid UTF-16 text despite its byte-order mark") from None
    reason = _binary_reason(data[:_SNIFF_BYTES])
    if reason:
        raise _Unreadable(reason)
    return _decode_text(data, first=True)


def _decode_text(data: bytes, *, first: bool) -> str:
    """UTF-8 first; legacy Western files (cp1252, else latin-1, which never fails) as fallback."""
    try:
        return data.decode("utf-8-sig" if first else "utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _lines(path: Path) -> Iterator[str]:
    """Stream a file's decoded lines (line ends kept) without loading it; raises if binary/empty."""
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
        if not head:
            raise _Unreadable("empty file")
        reason = _binary_reason(head)
        if reason:
            raise _Unreadable(reason)
        handle.seek(0)
        for index, raw in enumerate(handle):
            # Decoded per line so one stray cp1252 byte only affects its own line.
            yield _decode_text(raw, first=index == 0)


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
    # favor_precision: a page of only menus and footers then yields nothing rather than "Home World".
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
    if not body:
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
    lines = _lines(path)
    first = next(lines, "")
    rows = csv.reader(itertools.chain([first], lines), delimiter=_delimiter(first))
    header: list[str] | None = None
    line_before = rows_seen = 0
    try:
        for row in rows:
            start, line_before = line_before + 1, rows.line_num
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
            record = {key: value for key, value in zip(header, row) if key and value.strip()}
            yield _record_article(record, where, source)
    except csv.Error as exc:
        # The csv module cannot resynchronise after a broken row; report where and stop.
        yield ReadFailure(f"{origin}:{line_before + 1}", f"malformed CSV ({exc}); rest of file skipped")
        return
    if header is None:
        raise _Unreadable("empty file")
    if not rows_seen:
        raise _Unreadable("no records (only a header row)")


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


# --------------------------------------------------------------------------- record -> Article


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
    if not body:
        return ReadFailure(origin, "no text (the body is empty or only whitespace)")
    title = clean_title(_as_text(fields.get("title")) or "", unescape=unescape)
    if not title:
        title, body = untitled(body)
    raw_date = fields.get("published_at")
    published_at = parse_date(raw_date)
    if published_at is None and raw_date is not None:
        extra["date_raw"] = str(raw_date)  # kept so the date can be fixed later; the article still counts
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


def _untitled_record(body: str) -> tuple[str, str]:
    return title_from_body(body), body


def _title_from_first_line(body: str) -> tuple[str, str]:
    """A short first line followed by more text is the title (and leaves the body); else first sentence."""
    first, _, rest = body.partition("\n")
    heading = _MD_HEADING.match(first)
    candidate = clean_title(first[heading.end() :] if heading else first)
    rest = _SETEXT_UNDERLINE.sub("", rest, count=1).strip() if heading is None else rest.strip()
    # A hard-wrapped paragraph is not a title: its first line runs on into a lower-case line.
    runs_on = not heading and not first.rstrip().endswith((".", "!", "?", ":")) and rest[:1].islower()
    if candidate and rest and len(candidate) < TITLE_LINE_LIMIT and not runs_on:
        return candidate, rest
    return title_from_body(body), body


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0]
    if len(cut) < limit // 2:  # one very long word: cut mid-word rather than keep almost nothing
        cut = text[:limit]
    return cut.rstrip(" ,;:-\u2013\u2014") + "\u2026"


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


# --------------------------------------------------------------------------- text cleaning

# Only entities closed by ";" are decoded: html.unescape alone also turns "&para=1" into "¶=1".
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_NEWLINES = re.compile(r"\r\n?|[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# C0 and C1 controls except tab and newline, plus stray byte-order marks (Reuters ends with \x03).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ufeff]")
_TRAILING_SPACE = re.compile(r"[^\S\n]+(?=\n|\Z)")
_BLANK_LINES = re.compile(r"\n{3,}")
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)\]]*(?=\s+[\"'\u201c\u2018(\[]?[A-Z0-9])")
_MD_HEADING = re.compile(r"#{1,6}\s+")
_SETEXT_UNDERLINE = re.compile(r"\A[ \t]*(?:=+|-+)[ \t]*(?:\n|\Z)")


def _unescape(text: str) -> str:
    if "&" not in text:  # the common case, and this runs on every field of every record
        return text
    return _ENTITY.sub(lambda match: html.unescape(match.group(0)), text)


def article_from_record(record: Mapping[str, Any], origin: str) -> Article | ReadFailure:
    """One JSON-style record (as in .json/.jsonl files, e.g. an API request body) as an Article or ReadFailure."""
    return _record_article(record, origin, None)
