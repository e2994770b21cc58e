"""Tokens -> Query: Lucene-style clauses with NOT > AND > OR, repaired rather than rejected; pure.

A group (the whole query, or what a pair of parentheses holds) is a list of clauses
separated by spaces; ``OR`` joins neighbouring clauses into one alternative, ``AND`` joins
them tighter (``a OR b AND c`` is ``a OR (b AND c)``), ``NOT``/``-`` exclude and ``+``
requires the item that follows. Each clause of a group is then

- excluded: ``-x``, ``NOT x``;
- optional: a bare word or ``word*``, or only such items joined by OR or in parentheses
  (``a OR b`` and ``(a b)`` are the same as ``a b``): these rank, and match when nothing
  else is required;
- required: everything else (``+x``, a phrase, ``title:x``, an AND or an OR holding
  anything but optional items, a group that requires or excludes something).

Repairs: an operator with nothing on one side is dropped (a filter such as ``source:x``
is not a clause: ``a AND source:x b`` is ``a b`` filtered); the last of two operators in
a row wins; an unclosed ``(`` closes at the end, a stray ``)`` is ignored, ``()`` is
nothing; parentheses nested deeper than MAX_DEPTH are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from archive.limits import MAX_LABEL_CHARS, check_date_range
from archive.query.lexer import Token, tokenize
from archive.query.model import Query, parse_date
from archive.query.nodes import Leaf, Node, Not, Phrase, Prefix, Term, all_of, any_of, in_field, split
from archive.query.words import MAX_DEPTH, MAX_TERMS, embedded_words


@dataclass(frozen=True)
class _Unit:
    """One parsed item: its expression, how it is used (``+``, ``-`` or plain), and, when it is
    made only of optional words and prefixes, those leaves."""

    node: Node
    mod: str | None = None
    items: tuple[Leaf, ...] | None = None

    def signed(self) -> Node:
        return Not(self.node) if self.mod == "-" else self.node

    def modified(self, negate: bool, require: bool) -> _Unit:
        mod = self.mod
        if negate:
            mod = {None: "-", "-": "+", "+": "-"}[mod]  # NOT NOT x requires x
        elif require and mod is None:
            mod = "+"
        return _Unit(self.node, mod, self.items if mod is None else None)


def _unit(node: Node | None, items: tuple[Leaf, ...] | None = None) -> _Unit | None:
    if node is None:
        return None
    if isinstance(node, Not):
        return _Unit(node.node, "-")
    return _Unit(node, None, items)


Clauses = list[list[list[_Unit]]]  # clauses of OR-ed alternatives of AND-ed units


def classify(clauses: Clauses) -> tuple[list[Node], list[Leaf], list[Node]]:
    """(required, optional, excluded) of a group's clauses."""
    required: list[Node] = []
    optional: list[Leaf] = []
    excluded: list[Node] = []
    for alternatives in clauses:
        if all(len(chain) == 1 and chain[0].mod is None and chain[0].items is not None for chain in alternatives):
            optional.extend(leaf for chain in alternatives for leaf in chain[0].items or ())
            continue
        if len(alternatives) == 1 and len(alternatives[0]) == 1:
            unit = alternatives[0][0]
            (excluded if unit.mod == "-" else required).append(unit.node)
            continue
        node = any_of(all_of(u.signed() for u in chain) for chain in alternatives)
        if isinstance(node, Not):
            excluded.append(node.node)
        elif node is not None:
            required.append(node)
    return required, optional, excluded


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.embed: list[str] = []

    def _peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def group(self, depth: int, negated: bool) -> Clauses:
        """Clauses up to the `)` closing this group (depth > 0) or the end."""
        clauses: Clauses = []
        pending: str | None = None
        while (tok := self._peek()) is not None:
            if tok.kind == ")":
                self.i += 1
                if depth:
                    break
                continue  # a stray `)`
            if tok.kind in ("AND", "OR", "FILTER"):
                self.i += 1
                pending = tok.kind if clauses and tok.kind != "FILTER" else None  # a leading operator is dropped
                continue
            unit = self.unary(depth, negated)
            if unit is None:
                continue
            if pending == "AND":
                clauses[-1][-1].append(unit)
            elif pending == "OR":
                clauses[-1].append([unit])
            else:
                clauses.append([[unit]])
            pending = None
        return clauses

    def unary(self, depth: int, negated: bool) -> _Unit | None:
        """[NOT | - | +]* primary; a sign or NOT before nothing is dropped."""
        negate = require = False
        tok = self.tokens[self.i]
        self.i += 1
        while tok.kind in ("NOT", "-", "+"):
            nxt = self._peek()
            if nxt is None or nxt.kind in ("AND", "OR", ")"):
                return None
            if tok.kind == "+":
                require = True
            else:
                negate = not negate
            tok = nxt
            self.i += 1
        unit = self.primary(tok, depth, negated != negate)
        return None if unit is None else unit.modified(negate, require)

    def primary(self, tok: Token, depth: int, negated: bool) -> _Unit | None:
        """An atom, a field search, or a parenthesised group."""
        if tok.kind == "ATOM" and tok.leaf is not None:
            if not negated:
                self.embed.extend(tok.typed)
            plain = isinstance(tok.leaf, (Term, Prefix))
            return _Unit(tok.leaf, None, (tok.leaf,) if plain else None)
        if tok.kind == "FIELD":
            nxt = self._peek()
            if nxt is None or nxt.kind not in ("ATOM", "("):
                return None  # `title:` with nothing after it
            self.i += 1
            inner = self.primary(nxt, depth, negated)
            return None if inner is None else _unit(in_field(tok.name, inner.signed()))
        if tok.kind == "(" and depth < MAX_DEPTH:
            required, optional, excluded = classify(self.group(depth + 1, negated))
            if not required and not excluded:
                return _unit(any_of(optional), tuple(optional))
            positive = all_of(required) if required else any_of(optional)
            return _unit(all_of([positive, *(Not(n) for n in excluded)]))
        return None  # a `(` nested too deep: its content joins the enclosing group


def _unique(words: list[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    out: list[str] = []
    for w in words:
        if w.lower() not in seen and len(out) < MAX_TERMS:
            seen.add(w.lower())
            out.append(w)
    return tuple(out)


def parse_query(text: str, labels: Mapping[str, str] | None = None) -> Query:
    """Parse a user's search string into a Query; raise BadQuery for malformed filters only.

    `labels` maps label filter names to the `extra` fields they filter on (``topic:crude`` with
    {"topic": "topics"}: articles whose `topics` include "crude"); other ``name:value`` words are plain words.
    """
    labels = labels or {}
    tokens, filters = tokenize(text, labels)
    parser = _Parser(tokens)
    required, optional, excluded = classify(parser.group(0, False))
    boolean = all_of([*required, *(Not(n) for n in excluded)])
    positive, negative = split(boolean)
    f = {k: v for k, v in filters.items() if v}
    after = parse_date(f["after"], "after", param="q") if "after" in f else None
    before = parse_date(f["before"], "before", param="q") if "before" in f else None
    check_date_range(after, before, param="q")
    return Query(
        terms=_unique([leaf.word for leaf in optional if isinstance(leaf, Term)]),
        prefixes=_unique([leaf.stem for leaf in optional if isinstance(leaf, Prefix)]),
        phrases=tuple(n.words for n in positive if isinstance(n, Phrase)),
        excluded=tuple(n.word for n in negative if isinstance(n, Term)),
        excluded_phrases=tuple(n.words for n in negative if isinstance(n, Phrase)),
        boolean=boolean,
        source=f["source"][:200] if "source" in f else None,
        author=f["author"][:200] if "author" in f else None,
        after=after,
        before=before,
        text_for_embedding=" ".join(embedded_words(parser.embed)),
        labels=tuple((labels[name], f[name].lower()[:MAX_LABEL_CHARS]) for name in labels if name in f),
    )
