"""The Boolean expression tree of a query: small immutable nodes and the constructors that keep it tidy; pure.

Leaves: `Term` (one typed word; several alphanumeric parts match as a phrase, ``U.S.``),
`Phrase`, `Prefix` (``export*``) and `Field` (a leaf or group searched in one field: only
``title`` today). Inner nodes: `And`, `Or`, `Not`. Build trees with `all_of`, `any_of`,
`negate` and `in_field`, never with the classes directly: they flatten nested And/Or,
drop duplicates and keep the shape every compiler relies on:

- an `Or` holds only positive nodes (a `NOT` inside an OR excludes from the whole group,
  as ``-word`` does: ``a OR NOT b`` is ``a NOT b``);
- an `And` holds at least one positive node; its `Not` children are exclusions;
- a tree that excludes without requiring anything is a single `Not` (``-a -b`` is
  ``Not(Or(a, b))``), which only narrows other matches;
- a `Field` holds a positive node without another `Field` in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from archive.query.words import phrase_parts, word_parts


@dataclass(frozen=True)
class Term:
    """One word as typed (punctuation inside it kept: ``TNF-alpha``, ``U.S.``)."""

    word: str

    def key(self) -> tuple:
        return ("t", tuple(word_parts(self.word)))


@dataclass(frozen=True)
class Phrase:
    """An exact sequence of words (``"nuclear talks"``)."""

    words: tuple[str, ...]

    def key(self) -> tuple:
        return ("p", tuple(phrase_parts(self.words)))


@dataclass(frozen=True)
class Prefix:
    """Words starting with `stem` (``export*``); the stem has one alphanumeric part of MIN_PREFIX+ characters."""

    stem: str

    def key(self) -> tuple:
        return ("x", tuple(word_parts(self.stem)))


@dataclass(frozen=True)
class Field:
    """`node` matched inside one field (``title:iran``, ``title:"nuclear talks"``, ``title:(a OR b)``)."""

    name: str
    node: Node

    def key(self) -> tuple:
        return ("f", self.name, self.node.key())


@dataclass(frozen=True)
class And:
    """Every positive child, and none of the `Not` children."""

    nodes: tuple[Node, ...]

    def key(self) -> tuple:
        return ("and", tuple(n.key() for n in self.nodes))


@dataclass(frozen=True)
class Or:
    """Any of the (positive) children."""

    nodes: tuple[Node, ...]

    def key(self) -> tuple:
        return ("or", tuple(n.key() for n in self.nodes))


@dataclass(frozen=True)
class Not:
    """Excludes what `node` matches; only meaningful beside a positive match."""

    node: Node

    def key(self) -> tuple:
        return ("not", self.node.key())


Node = Term | Phrase | Prefix | Field | And | Or | Not
Leaf = Term | Phrase | Prefix


def _unique(nodes: Iterable[Node]) -> list[Node]:
    seen: set[tuple] = set()
    out: list[Node] = []
    for n in nodes:
        k = n.key()
        if k not in seen:
            seen.add(k)
            out.append(n)
    return out


def negate(node: Node | None) -> Node | None:
    """NOT node (a double negation cancels)."""
    if node is None:
        return None
    return node.node if isinstance(node, Not) else Not(node)


def all_of(nodes: Iterable[Node | None]) -> Node | None:
    """Conjunction: every positive node and none of the excluded ones (None when empty)."""
    flat: list[Node] = []
    for n in nodes:
        if isinstance(n, And):
            flat.extend(n.nodes)
        elif n is not None:
            flat.append(n)
    flat = _unique(flat)
    positive = [n for n in flat if not isinstance(n, Not)]
    excluded = [n.node for n in flat if isinstance(n, Not)]
    if not positive:
        return negate(any_of(excluded))
    if len(flat) == 1:
        return flat[0]
    return And(tuple(positive + [Not(n) for n in excluded]))


def any_of(nodes: Iterable[Node | None]) -> Node | None:
    """Disjunction of the positive nodes; excluded nodes narrow the whole group (None when empty)."""
    flat: list[Node] = []
    for n in nodes:
        if isinstance(n, Or):
            flat.extend(n.nodes)
        elif n is not None:
            flat.append(n)
    flat = _unique(flat)
    positive = [n for n in flat if not isinstance(n, Not)]
    excluded = [n.node for n in flat if isinstance(n, Not)]
    if not positive:
        return negate(any_of(excluded)) if excluded else None
    core = positive[0] if len(positive) == 1 else Or(tuple(positive))
    return all_of([core, *(Not(n) for n in excluded)]) if excluded else core


def _unfield(node: Node) -> Node:
    """The node without any Field wrapper inside it."""
    if isinstance(node, Field):
        return _unfield(node.node)
    if isinstance(node, And):
        return And(tuple(_unfield(n) for n in node.nodes))
    if isinstance(node, Or):
        return Or(tuple(_unfield(n) for n in node.nodes))
    if isinstance(node, Not):
        return Not(_unfield(node.node))
    return node


def in_field(name: str, node: Node | None) -> Node | None:
    """node searched in field `name` (an excluding node stays excluding: ``title:(-x)`` is ``-title:x``)."""
    if node is None:
        return None
    if isinstance(node, Not):
        return Not(Field(name, _unfield(node.node)))
    return Field(name, _unfield(node))


def split(node: Node | None) -> tuple[list[Node], list[Node]]:
    """(positive conjuncts, excluded nodes) of a tree's top level (``-a -b`` excludes a and b)."""
    if node is None:
        return [], []
    if isinstance(node, Not):
        return [], list(node.node.nodes) if isinstance(node.node, Or) else [node.node]
    if isinstance(node, And):
        return [n for n in node.nodes if not isinstance(n, Not)], [n.node for n in node.nodes if isinstance(n, Not)]
    return [node], []


def leaves(node: Node | None, *, positive: bool = True) -> Iterator[Leaf]:
    """The leaves in positive (or, with positive=False, excluded) position, in order; fields looked through."""
    if node is None:
        return
    if isinstance(node, Not):
        yield from leaves(node.node, positive=not positive)
    elif isinstance(node, (And, Or)):
        for n in node.nodes:
            yield from leaves(n, positive=positive)
    elif isinstance(node, Field):
        yield from leaves(node.node, positive=positive)
    elif positive:
        yield node


def leaf_words(leaf: Leaf) -> tuple[str, ...]:
    """The words a leaf stands for (a prefix: its stem)."""
    if isinstance(leaf, Phrase):
        return leaf.words
    return (leaf.word,) if isinstance(leaf, Term) else (leaf.stem,)


def match_expression(query_terms: Iterable[str], prefixes: Iterable[str], boolean: Node | None) -> Node | None:
    """The whole keyword match of a query as one tree: any of its optional words and prefixes (when it has
    some), and its Boolean constraint."""
    optional: list[Node] = [*(Term(t) for t in query_terms), *(Prefix(p) for p in prefixes)]
    parts = ([any_of(optional)] if optional else []) + ([boolean] if boolean is not None else [])
    return all_of(parts) if parts else None
