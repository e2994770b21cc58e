"""Best passage selection and safe highlighting of query terms; pure.

Matching rule (shared by every function here): text and terms are split into words
(runs of letters/digits; underscores and punctuation separate, as in FTS5's unicode61).
A term is reduced to a cheap stem by stripping one common English suffix, only if at
least 4 letters remain (``disconnection`` -> ``disconnect``, ``cameras`` -> ``camera``).
A text word matches, case-insensitively, when it starts with a stem of 4+ letters
(``disconnect`` marks ``disconnected``, ``disconnecting``, ``disconnection``); a term
shorter than that must match a whole word, optionally plus ``s``/``es`` (``art`` marks
``arts`` but not ``article``). Whole words are marked, never parts of words.

Safety: ``highlight`` escapes the original text segment by segment with
``html.escape(quote=True)`` and adds only ``<mark>``/``</mark>``; terms are matched on
the original text, so a term like ``amp`` or ``lt`` can never break an entity.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from functools import lru_cache

from archive.query import Query, word_parts

_WORD = re.compile(r"[^\W_]+")
_SENTENCE_START = re.compile(r"(?:[.!?][\"'\u201d\u2019)\]]*\s+|\n\s*)(?=\S)")
_SUFFIXES = (
    "ations",
    "ation",
    "ments",
    "ment",
    "ings",
    "ing",
    "ions",
    "ion",
    "ness",
    "ies",
    "ers",
    "er",
    "ed",
    "es",
    "ly",
    "s",
)  # longest first within families; the first that leaves 4+ letters wins
_MIN_STEM = 4


def stem(word: str) -> str:
    """Cheap stem: the lower-cased word minus one common suffix, if 4+ letters remain."""
    word = word.lower()
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            return word[: -len(suffix)]
    return word


class _Matcher:
    """Compiled term set: word -> index of the term it matches (or None)."""

    def __init__(self, terms: Sequence[str]) -> None:
        self.exact: dict[str, int] = {}
        self.prefixes: dict[int, dict[str, int]] = {}
        self.count = 0
        seen: dict[str, int] = {}
        for term in terms:
            for part in _WORD.findall(str(term)):  # same splitter as the text side
                key = stem(part)
                if key in seen:
                    continue
                index = seen[key] = self.count
                self.count += 1
                if len(key) >= _MIN_STEM:
                    self.prefixes.setdefault(len(key), {})[key] = index
                else:
                    for form in (key, key + "s", key + "es"):
                        self.exact.setdefault(form, index)
        self.lengths = sorted(self.prefixes, reverse=True)  # longest stem wins
        self.heads = {key[:_MIN_STEM] for by_length in self.prefixes.values() for key in by_length}
        # A regex that finds only words that *could* match (start with a stem head or an exact
        # form), so Python looks at a handful of words instead of every word of the text. Only
        # for ASCII terms: there lower() and IGNORECASE agree, so the candidates are a superset.
        starts = sorted(self.heads | set(self.exact), key=len, reverse=True)
        self.candidates = (
            re.compile(r"(?<![^\W_])(?:" + "|".join(map(re.escape, starts)) + r")[^\W_]*", re.IGNORECASE)
            if starts and all(x.isascii() for x in starts)
            else None
        )

    def match(self, word: str) -> int | None:
        """Index of the term this word matches, or None."""
        lower = word.lower()
        if lower[:_MIN_STEM] in self.heads:  # most words match no stem: one set lookup, not one per length
            for length in self.lengths:
                if len(lower) >= length and (hit := self.prefixes[length].get(lower[:length])) is not None:
                    return hit
        return self.exact.get(lower)

    def spans(self, text: str) -> list[tuple[int, int, int]]:
        """(start, end, term index) of every matching word in text."""
        if not self.count:
            return []
        out = []
        for m in (self.candidates or _WORD).finditer(text):
            hit = self.match(m.group())
            if hit is not None:
                out.append((m.start(), m.end(), hit))
        return out


@lru_cache(maxsize=64)
def _matcher(terms: tuple[str, ...]) -> _Matcher:
    """A compiled matcher, shared by the calls of one search (a page calls it three times per result)."""
    return _Matcher(terms)


def highlight_terms(query: Query) -> list[str]:
    """Words to mark for a query: every word it looks for (optional, required, prefix stems, phrase words;
    not exclusions), lower-cased."""
    out: list[str] = []
    for word in query.positive_words:
        for part in word_parts(word):
            if len(part) > 1 and part not in out:  # single letters (the "s" of "U.S.") would mark noise
                out.append(part)
    return out


def highlight_spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    """Character spans (start, end) of the words in text that match the terms."""
    return [(s, e) for s, e, _ in _matcher(tuple(terms)).spans(text)]


def match_strength(text: str, terms: Sequence[str]) -> tuple[int, int]:
    """(distinct terms, total hits) of the terms in text: how well a passage shows the query."""
    spans = _matcher(tuple(terms)).spans(text)
    return len({hit for _, _, hit in spans}), len(spans)


def highlight(text: str, terms: Sequence[str], spans: Sequence[tuple[int, int]] | None = None) -> str:
    """HTML-escape text and wrap matching words in <mark>; safe to insert into a page (`spans`: the text's
    `highlight_spans`, when the caller has them already)."""
    out: list[str] = []
    last = 0
    for start, end in highlight_spans(text, terms) if spans is None else spans:
        out.append(html.escape(text[last:start], quote=True))
        out.append("<mark>" + html.escape(text[start:end], quote=True) + "</mark>")
        last = end
    out.append(html.escape(text[last:], quote=True))
    return "".join(out)


def _cut_end(text: str, start: int, limit: int, floor: int) -> int:
    """Largest end <= limit at a sentence or word boundary, not before floor."""
    if limit >= len(text):
        return len(text)
    window = text[start:limit]
    sentence_end = max(window.rfind(". "), window.rfind("! "), window.rfind("? "), window.rfind("\n"))
    if sentence_end >= 0 and start + sentence_end + 1 >= max(floor, start + (limit - start) // 2):
        return start + sentence_end + 1
    space = window.rfind(" ")
    if space > 0 and start + space >= floor:
        return start + space
    return limit


def _align_start(text: str, first: int, slack: int) -> int:
    """Start at most `slack` chars before `first`: a sentence start if one fits, else a word start."""
    lo = max(0, first - slack)
    if lo == 0:
        return 0
    starts = [m.end() for m in _SENTENCE_START.finditer(text, lo, first + 1) if m.end() <= first]
    if starts:
        return starts[0]
    space = text.find(" ", lo, first)
    return space + 1 if space >= 0 else first


def best_passage(text: str, terms: Sequence[str], max_chars: int = 300) -> tuple[int, int]:
    """The (start, end) window of at most max_chars holding the most distinct query terms."""
    if max_chars < 1:
        raise ValueError("max_chars must be >= 1")
    if len(text) <= max_chars:
        return 0, len(text)
    spans = _matcher(tuple(terms)).spans(text)
    best: tuple[int, int, int, int] | None = None  # (distinct, total, -first index, last index)
    j = 0
    for i, (start, _, _) in enumerate(spans):
        j = max(j, i)
        while j + 1 < len(spans) and spans[j + 1][1] - start <= max_chars:
            j += 1
        if spans[j][1] - start > max_chars:
            continue  # a single word longer than the window
        distinct = len({hit for _, _, hit in spans[i : j + 1]})
        candidate = (distinct, j - i + 1, -i, j)
        if best is None or candidate[:3] > best[:3]:
            best = candidate
    if best is None:
        return 0, _cut_end(text, 0, max_chars, 1)
    first, last = spans[-best[2]][0], spans[best[3]][1]
    slack = max_chars - (last - first)
    start = _align_start(text, first, min(slack, max_chars // 3) if first > 0 else 0)
    end = _cut_end(text, start, start + max_chars, last)
    if end == len(text) and end - start < max_chars:
        start = _align_start(text, first, max_chars - (end - first))
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
