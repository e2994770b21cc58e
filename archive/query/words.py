"""Words as the keyword index sees them, and the caps that keep any query small; pure."""

from __future__ import annotations

import unicodedata

MAX_TERMS = 64  # per list (optional words, required and excluded clauses): keeps a 10 KB query cheap
MAX_PHRASE_WORDS = 16
MAX_TERM_CHARS = 64
MAX_EMBED_WORDS = 256  # the encoder truncates long inputs anyway
MAX_ATOMS = 128  # words, phrases and prefixes read from one query; the rest is ignored
MAX_DEPTH = 8  # nested parentheses beyond this are ignored
MIN_PREFIX = 3  # `export*` is a prefix search; `ex*` is the plain word `ex` (a short prefix matches too much)


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
