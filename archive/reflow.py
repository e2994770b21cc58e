"""Paragraphs of a stored body, as exact spans of it: hard-wrapped lines joined, offsets untouched; pure.

Bodies keep the line breaks of their source. Reuters wraps every line at about 65
characters and starts a paragraph with an indented line ("    The company said..."),
web text puts one paragraph per (long) line, plain-text mail wraps at ~72 and marks
paragraphs by blank lines or by nothing but a short last line. `paragraph_spans` finds
the paragraphs and returns them as `(start, end)` offsets into the body; nothing is
rewritten, so chunk offsets, passage anchors and highlights stay exact. Only the
displayed text changes: `display_text(body[start:end])` collapses every whitespace run
(the line breaks inside a paragraph and the indentation after them) to one space.

The rule, per body:

1. **Lines** (not hard-wrapped): fewer than 90% of the non-blank lines are at most
   `WRAP_MAX` characters long (web text, the seed). Every line is a paragraph, as before.
2. **Marked** (hard-wrapped, and some line is blank or indented): a paragraph starts
   after a blank line, at an indented line, or at a list item (`- `, `* `, `• `, `1.`,
   `1)`). Every other line continues the paragraph above it. Reuters is this style; its
   tables are one indented line per row, so each row stays on its own line.
3. **Plain** (hard-wrapped, no blank or indented line): as *marked*, and a line that
   ends a sentence (`.`, `!`, `?`, `:` with closing quotes or brackets) also ends the
   paragraph when the next line's first word would have fitted on it: the writer broke
   the line, not the wrapper. The width is the body's longest line. (This rule is off for
   marked bodies: Reuters wraps unevenly and its first line is short, having lost its
   dateline, so "...its U.S." followed by "Government agency..." would split a sentence.)
"""

from __future__ import annotations

import re

WRAP_MAX = 100  # lines longer than this are not hard-wrapped text
WRAPPED_SHARE = 0.9  # share of non-blank lines at most WRAP_MAX long for a body to count as hard-wrapped
_LIST_ITEM = re.compile(r"(?:[-*\u2022\u2013]|\d{1,3}[.)])\s")
_SENTENCE_END = re.compile(r"[.!?:][\"'\u201d\u2019)\]]*\Z")


def display_text(raw: str) -> str:
    """What a reader sees of a body slice: every whitespace run (line breaks, indentation) one space, ends trimmed."""
    return " ".join(raw.split())


def _lines(body: str) -> list[tuple[int, int]]:
    """(start, end) of every line, end before its newline."""
    out: list[tuple[int, int]] = []
    pos = 0
    while pos <= len(body):
        newline = body.find("\n", pos)
        end = len(body) if newline == -1 else newline
        out.append((pos, end))
        pos = end + 1
    return out


def body_style(body: str) -> str:
    """'lines', 'marked' or 'plain' (see the module docstring)."""
    lines = [body[a:b].rstrip() for a, b in _lines(body)]
    filled = [line for line in lines if line.strip()]
    if len(filled) < 2 or sum(len(line) <= WRAP_MAX for line in filled) < WRAPPED_SHARE * len(filled):
        return "lines"
    if len(filled) < len(lines) or any(line[:1].isspace() for line in filled):
        return "marked"
    return "plain"


def paragraph_spans(body: str) -> list[tuple[int, int]]:
    """The body's paragraphs as (start, end) offsets, trimmed of surrounding whitespace, in order."""
    style = body_style(body)
    width = max((len(body[a:b].rstrip()) for a, b in _lines(body) if b - a <= WRAP_MAX), default=0)
    spans: list[list[int]] = []
    previous = ""  # the last non-blank line, trimmed; "" after a blank line
    for start, end in _lines(body):
        line = body[start:end]
        content = line.strip()
        if not content:
            previous = ""
            continue
        left = start + len(line) - len(line.lstrip())
        right = start + len(line.rstrip())
        if not previous or _starts_paragraph(style, line, previous, content, width):
            spans.append([left, right])
        else:
            spans[-1][1] = right
        previous = content
    return [(a, b) for a, b in spans]


def _starts_paragraph(style: str, line: str, previous: str, content: str, width: int) -> bool:
    """Whether `line` (following the non-blank line `previous`) begins a new paragraph."""
    if style == "lines" or line[:1].isspace() or _LIST_ITEM.match(content):
        return True
    if style == "plain" and _SENTENCE_END.search(previous):
        return len(previous) + 1 + len(content.split(None, 1)[0]) <= width
    return False


def pieces(spans: list[tuple[int, int]], body: str, start: int, end: int) -> tuple[list[tuple[int, int]], bool]:
    """The parts of the paragraphs inside [start, end), trimmed, and whether a paragraph runs on past `end`."""
    out: list[tuple[int, int]] = []
    runs_on = False
    for a, b in spans:
        if b <= start or a >= end:
            continue
        left, right = max(a, start), min(b, end)
        while left < right and body[left].isspace():
            left += 1
        while right > left and body[right - 1].isspace():
            right -= 1
        if right > left:
            out.append((left, right))
        if a < end < b and body[a:end].strip() and body[end:b].strip():
            runs_on = True
    return out, runs_on
