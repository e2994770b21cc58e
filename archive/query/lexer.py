"""User query string -> tokens (operators, parentheses, words, phrases, prefixes, fields) and filters; pure.

Forgiving by design: nothing here raises except a malformed or negated filter. Syntax
is recognised only where it is unambiguous, so a natural-language question lexes to
plain words: ``(`` is an operator only at the start of a word and ``)`` only at its end
(``apo(a)`` and ``Lp(a).`` stay words); ``AND``/``OR``/``NOT`` only in upper case and
standing alone (or glued to a ``(``); ``+`` marks a required item except before a digit
(``+1``, ``+5`` are numbers); ``-`` and ``+`` bind only to what directly follows them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from archive.errors import BadQuery
from archive.query.nodes import Leaf, Phrase, Prefix, Term
from archive.query.words import MAX_ATOMS, MAX_TERM_CHARS, MIN_PREFIX, phrase_words, word_parts

FILTER_FIELDS = ("source", "author", "after", "before")
SEARCH_FIELDS = ("title",)  # field searches (`title:iran`): columns of the keyword index
OPERATORS = ("AND", "OR", "NOT")
_CONTROL_TO_SPACE = dict.fromkeys([*range(32), *range(127, 160)], " ")  # NUL would end an FTS5 string
_WORD_END = re.compile(r'[\s"]')  # str.isspace() and \s agree on what a space is
_GLUED_OPERATOR = re.compile(r"(AND|OR|NOT)\(")
_FIELD_GROUP = re.compile(r"(" + "|".join(SEARCH_FIELDS) + r"):\(", re.IGNORECASE)
_IGNORED = frozenset({"||", "&&", "|", "&"})  # dropped, as they always were


@dataclass(frozen=True)
class Token:
    """`kind` is one of ``( ) AND OR NOT + - FIELD FILTER ATOM``; an ATOM carries its leaf and the words
    it contributes, as typed, to the text the encoder embeds; a FIELD names the field."""

    kind: str
    leaf: Leaf | None = None
    typed: tuple[str, ...] = ()
    name: str = ""


def shouted(text: str) -> bool:
    """True for a query typed all in capitals with a word besides the operators (a pasted headline,
    `MALAYSIA MAY NOT MEET 1987 OIL PALM TARGET`): its AND, OR and NOT are words, since an
    operator cannot be told apart from the words around it."""
    words = text.split()
    return (
        not any(ch.islower() for ch in text)
        and sum(any(ch.isalpha() for ch in w) for w in words if w.strip("()") not in OPERATORS) >= 2
    )


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text.translate(_CONTROL_TO_SPACE)
        self.tokens: list[Token] = []
        self.filters: dict[str, str] = {}
        self.atoms = 0
        self.label_names: frozenset[str] = frozenset()
        self.operators = () if shouted(self.text) else OPERATORS

    def run(self) -> tuple[list[Token], dict[str, str]]:
        t, i = self.text, 0
        while i < len(t):
            i = i + 1 if t[i].isspace() else self._item(i)
        return self.tokens, self.filters

    def _emit(self, kind: str, *, name: str = "") -> None:
        self.tokens.append(Token(kind, name=name))

    def _atom(self, leaf: Leaf, typed: tuple[str, ...], mod: str | None = None, field: str | None = None) -> None:
        """An atom with its modifier and field, or nothing once MAX_ATOMS atoms were read."""
        if self.atoms >= MAX_ATOMS:
            return
        self.atoms += 1
        if mod:
            self._emit(mod)
        if field:
            self._emit("FIELD", name=field)
        self.tokens.append(Token("ATOM", leaf=leaf, typed=typed))

    def _item(self, i: int) -> int:
        """Read one item starting at a non-space character; return where the next one starts."""
        t = self.text
        ch = t[i]
        if ch in "()":
            self._emit(ch)
            return i + 1
        if ch == '"':
            return self._phrase(i)
        if ch == "-" or (ch == "+" and not (i + 1 < len(t) and t[i + 1].isdigit())):  # `+5` is a number
            j = i + 1
            if j >= len(t) or t[j].isspace():
                return j  # a lone sign
            if t[j] == "(":
                self._emit(ch)  # -( ... ) and +( ... ): the sign applies to the group
                return j
            if t[j] == '"':
                return self._phrase(j, mod=ch)
            return self._word(j, mod=ch)
        return self._word(i)

    def _phrase(self, i: int, mod: str | None = None, field: str | None = None) -> int:
        """A quoted phrase at t[i] == '"'; an unbalanced quote is skipped (the rest reads as words)."""
        close = self.text.find('"', i + 1)
        if close < 0:
            return i + 1
        words = phrase_words(self.text[i + 1 : close])
        if words:
            self._atom(Phrase(words), words, mod, field)
        return close + 1

    def _word(self, i: int, mod: str | None = None) -> int:
        """A word (or operator, filter, field search) running to the next space or quote."""
        t = self.text
        if mod is None and self.operators and (glued := _GLUED_OPERATOR.match(t, i)):  # NOT(a OR b)
            self._emit(glued.group(1))
            return glued.end(1)
        if group := _FIELD_GROUP.match(t, i):  # title:(a OR b): the field applies to the group that follows
            if mod:
                self._emit(mod)
            self._emit("FIELD", name=group.group(1).lower())
            return group.end(1) + 1
        end = _WORD_END.search(t, i)
        j = end.start() if end else len(t)
        raw = t[i:j]
        if mod is None and raw in _IGNORED:
            return j
        word = raw.rstrip(")")
        closing = len(raw) - len(word)
        start = i
        while start > 0 and t[start - 1] == "(" and mod is None:
            start -= 1  # as typed, with its parentheses: `(SIDS)` is embedded as it always was
        typed = t[start:j]
        name, colon, value = word.partition(":")
        lname = name.lower()
        if mod is None and word in self.operators:
            self._emit(word)  # `(a OR b AND)`
        elif colon and (lname in FILTER_FIELDS or lname in self.label_names):
            j = self._filter(lname, value, j, negated=mod == "-")
        elif colon and lname in SEARCH_FIELDS:
            if not value and j < len(t) and t[j] == '"':
                return self._phrase(j, mod=mod, field=lname)
            if word_parts(value):
                self._leaf(value, value, mod, lname)
        elif colon and mod is None:  # `foo:bar`, `12:30`: plain words
            for piece, typed_piece in zip(word.split(":"), typed.split(":"), strict=True):
                if word_parts(piece):
                    self._leaf(piece, typed_piece)
        elif word_parts(word):
            self._leaf(word, typed, mod)
        for _ in range(closing):
            self._emit(")")
        return j

    def _leaf(self, word: str, typed: str, mod: str | None = None, field: str | None = None) -> None:
        """`export*` is a Prefix when its stem is one alphanumeric part of MIN_PREFIX+ characters, else a Term."""
        word, typed = word[:MAX_TERM_CHARS], typed[:MAX_TERM_CHARS]
        if not word_parts(word):
            return
        if word.endswith("*"):
            stem = word.rstrip("*")
            parts = word_parts(stem)
            if len(parts) == 1 and len(parts[0]) >= MIN_PREFIX:
                self._atom(Prefix(stem), (stem,), mod, field)
                return
        self._atom(Term(word), (typed,), mod, field)

    def _filter(self, name: str, value: str, j: int, *, negated: bool) -> int:
        """Record a filter (the last one wins); a quoted value may follow the colon."""
        if negated or (self.tokens and self.tokens[-1].kind == "NOT"):
            raise BadQuery(f"-{name}: negated filters are not supported", param="q")
        t = self.text
        if not value and j < len(t) and t[j] == '"':
            close = t.find('"', j + 1)
            if close >= 0:
                value = t[j + 1 : close]
                j = close + 1
        self.filters[name] = value.strip()
        self._emit("FILTER")  # a clause boundary: `a AND source:x b` does not AND a with b
        return j


def tokenize(text: str, label_names: Iterable[str] = ()) -> tuple[list[Token], dict[str, str]]:
    """The tokens of a query string, and its filters (field -> value as typed; the last occurrence wins);
    `label_names` are filters too (``topic:crude``)."""
    lexer = _Lexer(text)
    lexer.label_names = frozenset(n for n in label_names if n not in SEARCH_FIELDS)
    return lexer.run()
