"""User query string -> Query, and the dialect-neutral shape of its keyword match; pure.

Query language (documented for users in the README):

- bare words are optional and OR-ed: they rank results (BM25 favours documents with
  more and rarer words), so a long natural-language question still finds its answer.
  An explicit ``OR`` between words is therefore the default and is dropped; ``AND`` is
  dropped too (it would turn a question into an all-words match); ``NOT word`` is the
  same as ``-word``. Lower-case ``or``/``and``/``not`` are ordinary words.
- ``"an exact phrase"`` is REQUIRED: a user who quotes means it. A quoted single word
  is a required word. An unbalanced quote is ignored and the rest of the string is
  read as bare words, so a stray ``"`` never turns a question into a required phrase.
- ``-word`` and ``-"a phrase"`` exclude. Exclusions only narrow a positive match: a
  query with nothing positive compiles to None. A lone ``-`` is ignored.
- filters: ``source:reuters``, ``source:"New York Times"``, ``author:...``,
  ``after:YYYY-MM-DD``, ``before:YYYY-MM-DD`` (field names are case-insensitive; the
  last occurrence wins; an empty value is ignored). A malformed date, or ``after``
  later than ``before``, raises ``BadQuery(param="q")`` naming the filter. Negated
  filters (``-source:x``) are not supported and raise ``BadQuery`` too.
  ``after`` is inclusive and ``before`` exclusive (``after:2022-01-01 before:2022-02-01``
  is January 2022); the rule lives in ``limits.check_date_range``.
- anything else with a colon (``foo:bar``, ``12:30``) is plain words (``foo bar``).

Whatever the input, a keyword index's compiler (e.g. ``store.keyword.fts5.to_fts5``) never
produces a syntax error: every token is reduced to its alphanumeric parts and quoted.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from archive.errors import BadQuery
from archive.limits import check_date_range

MAX_TERMS = 64  # per list (terms, phrases, exclusions): keeps a 10 KB query cheap
MAX_PHRASE_WORDS = 16
MAX_TERM_CHARS = 64
MAX_EMBED_WORDS = 256  # the encoder truncates long inputs anyway

FILTER_FIELDS = ("source", "author", "after", "before")
_CONTROL_TO_SPACE = dict.fromkeys([*range(32), *range(127, 160)], " ")  # NUL would end an FTS5 string
_KEYWORDS_DROPPED = frozenset({"OR", "AND", "||", "&&", "|", "&"})


@dataclass(frozen=True)
class Query:
    """A parsed search query: ranked words, required phrases, exclusions and filters."""

    terms: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    excluded: tuple[str, ...] = ()
    excluded_phrases: tuple[tuple[str, ...], ...] = ()
    source: str | None = None
    author: str | None = None
    after: date | None = None
    before: date | None = None
    text_for_embedding: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.text_for_embedding:
            words = list(self.terms) + [w for p in self.phrases for w in p]
            object.__setattr__(self, "text_for_embedding", " ".join(words))

    @property
    def is_empty(self) -> bool:
        """True when there is nothing positive (no words, no phrases) to match."""
        return not self.terms and not self.phrases

    @property
    def has_filters(self) -> bool:
        """True when any field filter (source, author, after, before) is set."""
        return any(v is not None for v in (self.source, self.author, self.after, self.before))


def parse_date(value: str, name: str, *, param: str | None = None) -> date:
    """Parse a strict YYYY-MM-DD date or raise BadQuery naming the filter `name`."""
    value = value.strip()
    try:
        if len(value) != 10 or value[4] != "-" or value[7] != "-" or not value.replace("-", "").isdigit():
            raise ValueError(value)
        return date(int(value[:4]), int(value[5:7]), int(value[8:]))
    except ValueError:
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise BadQuery(f"{name}: expects a date as YYYY-MM-DD, got {shown!r}", param=param or name) from None


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


class _Builder:
    """Mutable accumulator used while scanning; frozen into a Query at the end."""

    def __init__(self) -> None:
        self.terms: list[str] = []
        self.phrases: list[tuple[str, ...]] = []
        self.excluded: list[str] = []
        self.excluded_phrases: list[tuple[str, ...]] = []
        self.filters: dict[str, str] = {}
        self.embed: list[str] = []
        self._seen: set[str] = set()

    def word(self, word: str, negated: bool) -> None:
        word = word[:MAX_TERM_CHARS]
        if not word_parts(word):
            return
        if negated:
            if len(self.excluded) < MAX_TERMS and word.lower() not in map(str.lower, self.excluded):
                self.excluded.append(word)
            return
        if len(self.embed) < MAX_EMBED_WORDS:
            self.embed.append(word)
        key = word.lower()
        if len(self.terms) < MAX_TERMS and key not in self._seen:
            self._seen.add(key)
            self.terms.append(word)

    def phrase(self, content: str, negated: bool) -> None:
        words = tuple(w[:MAX_TERM_CHARS] for w in content.split() if word_parts(w))[:MAX_PHRASE_WORDS]
        if not words:
            return
        target = self.excluded_phrases if negated else self.phrases
        if len(target) < MAX_TERMS and words not in target:
            target.append(words)
        if not negated:
            self.embed.extend(words[: max(0, MAX_EMBED_WORDS - len(self.embed))])


def parse_query(text: str) -> Query:
    """Parse a user's search string into a Query; raise BadQuery for malformed filters."""
    text = text.translate(_CONTROL_TO_SPACE)
    b = _Builder()
    n = len(text)
    i = 0
    negate_next = False  # set by an upper-case NOT keyword
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        negated, negate_next = negate_next, False
        if text[i] == "-":
            negated = True
            i += 1
            if i >= n or text[i].isspace():
                continue  # a lone "-"
        if text[i] == '"':
            close = text.find('"', i + 1)
            if close < 0:
                i += 1  # unbalanced quote: ignore it, read the rest as bare words
                continue
            b.phrase(text[i + 1 : close], negated)
            i = close + 1
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] != '"':
            j += 1
        token = text[i:j]
        i = j
        name, colon, value = token.partition(":")
        lname = name.lower()
        if colon and lname in FILTER_FIELDS:
            if negated:
                raise BadQuery(f"-{lname}: negated filters are not supported", param="q")
            if not value and i < n and text[i] == '"':
                close = text.find('"', i + 1)
                if close >= 0:
                    value = text[i + 1 : close]
                    i = close + 1
            b.filters[lname] = value.strip()
            continue
        if not negated and token in _KEYWORDS_DROPPED:
            continue
        if not negated and token == "NOT":
            negate_next = True
            continue
        if colon and not negated:
            for piece in token.split(":"):
                b.word(piece, negated)
        else:
            b.word(token, negated)
    return _freeze(b)


def _freeze(b: _Builder) -> Query:
    """Validate filters and build the immutable Query."""
    f = {k: v for k, v in b.filters.items() if v}
    after = parse_date(f["after"], "after", param="q") if "after" in f else None
    before = parse_date(f["before"], "before", param="q") if "before" in f else None
    check_date_range(after, before, param="q")
    embed = " ".join(b.embed)
    return Query(
        terms=tuple(b.terms),
        phrases=tuple(b.phrases),
        excluded=tuple(b.excluded),
        excluded_phrases=tuple(b.excluded_phrases),
        source=f["source"][:200] if "source" in f else None,
        author=f["author"][:200] if "author" in f else None,
        after=after,
        before=before,
        text_for_embedding=embed,
    )


def phrase_parts(words: tuple[str, ...]) -> list[str]:
    """All alphanumeric parts of a phrase's words, in order."""
    return [p for w in words for p in word_parts(w)][: MAX_PHRASE_WORDS * 2]


def compile_query(
    query: Query,
    atom: Callable[[list[str]], str],
    any_of: Callable[[list[str]], str],
    all_of: Callable[[list[str]], str],
    exclude: Callable[[str, list[str]], str],
) -> str | None:
    """Shared shape: required phrases AND (words OR phrases, for ranking) minus exclusions."""
    words = [atom(parts) for t in query.terms if (parts := word_parts(t))]
    phrases = [atom(parts) for p in query.phrases if (parts := phrase_parts(p))]
    if not words and not phrases:
        return None
    if phrases:
        # Phrases are required; words stay optional but still count for ranking.
        positive = all_of(phrases + ([any_of(phrases + words)] if words else []))
    else:
        positive = any_of(words)
    negs = [atom(parts) for t in query.excluded if (parts := word_parts(t))]
    negs += [atom(parts) for p in query.excluded_phrases if (parts := phrase_parts(p))]
    return exclude(positive, negs) if negs else positive
