"""A Query's keyword match in the shape every keyword index shares; a `Dialect` spells it out; pure.

Shape: the required clauses, AND-ed, then the exclusions (``positive NOT (excluded)``).
Optional words add a ranking group, ``(anchors OR words)``, whose anchors are the
required clauses' own words: a match always satisfies it, so it changes the ranking
(the index scores every word of the expression) and never the match set. With nothing
required, the match is any optional word. A plain-words query is therefore
``("w1" OR "w2" ...)``, and phrases with words ``("p" AND ("p" OR "w"))``, as before
Boolean search existed.
"""

from __future__ import annotations

from typing import Protocol

from archive.query.model import Query
from archive.query.nodes import And, Field, Node, Not, Or, Phrase, Prefix, Term, leaves, split
from archive.query.words import phrase_parts, word_parts


class Dialect(Protocol):
    """How one keyword index writes each part of a match expression (every token quoted: no syntax errors)."""

    def atom(self, parts: list[str]) -> str:
        """A word or phrase from its alphanumeric parts."""
        ...

    def prefix(self, parts: list[str]) -> str:
        """Words starting with these parts."""
        ...

    def field(self, name: str, expression: str) -> str:
        """An expression matched in one field only."""
        ...

    def any_of(self, xs: list[str]) -> str:
        """Disjunction (one element: itself)."""
        ...

    def all_of(self, xs: list[str]) -> str:
        """Conjunction (one element: itself)."""
        ...

    def exclude(self, positive: str, excluded: list[str]) -> str:
        """`positive` without any of `excluded`."""
        ...

    def group(self, expression: str) -> str:
        """An expression made safe to nest."""
        ...


class InfixDialect:
    """The part every infix syntax shares: `any_of`, `all_of`, `exclude` and `group` spelled with the
    dialect's OR, AND and AND-NOT operators; a dialect adds `atom`, `prefix` and `field`."""

    OR = " OR "
    AND = " AND "
    AND_NOT = " NOT "

    def any_of(self, xs: list[str]) -> str:
        """Disjunction (one element: itself)."""
        return xs[0] if len(xs) == 1 else "(" + self.OR.join(xs) + ")"

    def all_of(self, xs: list[str]) -> str:
        """Conjunction (one element: itself)."""
        return xs[0] if len(xs) == 1 else "(" + self.AND.join(xs) + ")"

    def exclude(self, positive: str, excluded: list[str]) -> str:
        """`positive` without any of `excluded`."""
        return f"{positive}{self.AND_NOT}({self.OR.join(excluded)})"

    def group(self, expression: str) -> str:
        """An expression made safe to nest."""
        return f"({expression})"


def compile_node(node: Node, d: Dialect) -> str | None:
    """One node (never a bare Not); None when nothing in it can match (no alphanumeric parts)."""
    if isinstance(node, Term):
        return d.atom(parts) if (parts := word_parts(node.word)) else None
    if isinstance(node, Phrase):
        return d.atom(parts) if (parts := phrase_parts(node.words)) else None
    if isinstance(node, Prefix):
        return d.prefix(parts) if (parts := word_parts(node.stem)) else None
    if isinstance(node, Field):
        inner = compile_node(node.node, d)
        return d.field(node.name, inner) if inner else None
    if isinstance(node, Or):
        xs = [x for n in node.nodes if (x := compile_node(n, d))]
        return d.any_of(xs) if xs else None
    if isinstance(node, And):
        positive, excluded = split(node)
        xs = [x for n in positive if (x := compile_node(n, d))]
        if not xs:
            return None
        negs = [x for n in excluded if (x := compile_node(n, d))]
        return d.group(d.exclude(d.all_of(xs), negs)) if negs else d.all_of(xs)
    assert isinstance(node, Not)
    return None


def compile_expression(node: Node | None, d: Dialect) -> str | None:
    """A whole Boolean tree as a match (None when it requires nothing positive)."""
    positive, excluded = split(node)
    xs = [x for n in positive if (x := compile_node(n, d))]
    if not xs:
        return None
    negs = [x for n in excluded if (x := compile_node(n, d))]
    return d.exclude(d.all_of(xs), negs) if negs else d.all_of(xs)


def compile_excluded(node: Node | None, d: Dialect) -> str | None:
    """What a tree excludes at its top level, as one match (None when it excludes nothing)."""
    negs = [x for n in split(node)[1] if (x := compile_node(n, d))]
    return d.any_of(negs) if negs else None


def compile_query(query: Query, d: Dialect) -> str | None:
    """The keyword match of a query: required clauses (plus a ranking group) or any optional word, minus exclusions."""
    words = [d.atom(parts) for t in query.terms if (parts := word_parts(t))]
    words += [d.prefix(parts) for p in query.prefixes if (parts := word_parts(p))]
    positive, excluded = split(query.boolean)
    required = [x for n in positive if (x := compile_node(n, d))]
    if required:
        anchors: list[str] = []
        for leaf in (leaf for n in positive for leaf in leaves(n)):
            x = compile_node(leaf, d)
            if x and x not in anchors:
                anchors.append(x)
        extra = [w for w in words if w not in anchors]
        match = d.all_of(required + [d.any_of(anchors + extra)]) if extra else d.all_of(required)
    elif words:
        match = d.any_of(words)
    else:
        return None
    negs = [x for n in excluded if (x := compile_node(n, d))]
    return d.exclude(match, negs) if negs else match
