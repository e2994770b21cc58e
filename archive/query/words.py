"""Words as the keyword index sees them, and the caps that keep any query small; pure."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

MAX_TERMS = 64  # per list (optional words, required and excluded clauses): keeps a 10 KB query cheap
MAX_PHRASE_WORDS = 16
MAX_TERM_CHARS = 64
MAX_EMBED_WORDS = 256  # the encoder truncates long inputs anyway
MAX_ATOMS = 128  # words, phrases and prefixes read from one query; the rest is ignored
MAX_DEPTH = 8  # nested parentheses beyond this are ignored
MIN_PREFIX = 3  # `export*` is a prefix search; `ex*` is the plain word `ex` (a short prefix matches too much)


# A listed company's code in angle brackets (`<XOVR>`, `VIDEO<CCCR.O>`: the wires' convention) names a listing, not a
# meaning: the keyword side matches it as a word, the text the encoder embeds leaves it out (docs/search.md, "Eighth
# round": the codes' word pieces pulled a pasted headline's vector off its story).
CODE = re.compile(r"<[A-Za-z0-9][A-Za-z0-9.&-]{0,11}>")


def embedded_words(typed: Sequence[str]) -> list[str]:
    """The words typed as the encoder embeds them: codes in angle brackets (`CODE`) left out, unless nothing else
    is left (a query of codes alone is embedded as typed)."""
    kept = [w for w in (CODE.sub("", t) for t in typed) if any(_is_token_char(ch) for ch in w)]
    return (kept or list(typed))[:MAX_EMBED_WORDS]


def _is_token_char(ch: str) -> bool:
    """Token characters: unicode61's L*, N*, Co, plus marks (kept: FTS5 re-tokenizes the quoted text)."""
    if ch.isascii():
        return ch.isalnum()
    cat = unicodedata.category(ch)
    return cat[0] in "LNM" or cat == "Co"


def word_parts(token: str) -> list[str]:
    """Split a token into lower-cased alphanumeric parts, as FTS5's unicode61 would."""
    parts: list[str] = []
    cur: list[str] = []
    for ch in token:
        if _is_token_char(ch):
            cur.append(ch)
        elif cur:
            parts.append("".join(cur).lower()[:MAX_TERM_CHARS])
            cur = []
    if cur:
        parts.append("".join(cur).lower()[:MAX_TERM_CHARS])
    return parts


def phrase_parts(words: tuple[str, ...]) -> list[str]:
    """All alphanumeric parts of a phrase's words, in order."""
    return [p for w in words for p in word_parts(w)][: MAX_PHRASE_WORDS * 2]


def phrase_words(content: str) -> tuple[str, ...]:
    """The words of a quoted phrase: whitespace-separated, each with at least one alphanumeric part, capped."""
    return tuple(w[:MAX_TERM_CHARS] for w in content.split() if word_parts(w))[:MAX_PHRASE_WORDS]
