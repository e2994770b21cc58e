"""Text cleaning and derived titles: every field of every format passes through here."""

from __future__ import annotations

import html
import re

TITLE_LIMIT = 120  # derived titles are cut at a word boundary near this length
TITLE_LINE_LIMIT = 150  # a first line shorter than this may be a .txt file's title

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
# Lone UTF-16 surrogates (JSON "\ud800", argv's surrogateescape) cannot be encoded as UTF-8.
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str, *, unescape: bool = True) -> str:
    """Unescape entities, drop control characters, normalise newlines; keep paragraph breaks."""
    if unescape:
        text = _unescape(text)
    text = _NEWLINES.sub("\n", text)
    text = _CONTROL.sub("", text)
    text = _TRAILING_SPACE.sub("", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def replace_surrogates(text: str) -> str:
    """Replace each lone surrogate with U+FFFD: later stages encode text as UTF-8, which rejects them."""
    if text.isascii():  # the common case, and this runs on every string of every record
        return text
    return _SURROGATE.sub("\ufffd", text)


def clean_title(title: str, *, unescape: bool = True) -> str:
    """Unescape entities, drop control characters and collapse whitespace in a title."""
    return " ".join(_CONTROL.sub(" ", _unescape(title) if unescape else title).split())


def title_from_body(body: str) -> str:
    """Derive a title: the first sentence of the first paragraph, cut at a word boundary."""
    paragraph = " ".join(body.split("\n\n", 1)[0].split())
    end = _SENTENCE_END.search(paragraph)
    return _truncate(paragraph[: end.end()] if end else paragraph, TITLE_LIMIT)


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


def _unescape(text: str) -> str:
    if "&" not in text:  # the common case, and this runs on every field of every record
        return text
    return _ENTITY.sub(lambda match: html.unescape(match.group(0)), text)
