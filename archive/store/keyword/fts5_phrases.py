"""The phrases of an FTS5 expression as bm25() counts them, and the expression shapes `fts5_score` scores.

`fts5_syntax` writes every expression: quoted strings (a `*` after a prefix), `column : ` filters, parentheses,
AND, OR and NOT. Each quoted string is one phrase of xPhraseCount (a phrase written twice counts twice).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archive.query.words import word_parts
from archive.store.keyword.fts5_syntax import COLUMNS

_TOKEN = re.compile(r'"((?:[^"]|"")*)"(\*?)|\(|\)|AND\b|OR\b|NOT\b|(\w+) :')


@dataclass(frozen=True)
class Phrase:
    """One quoted string of an expression: its FTS5 text, column filter, word count, and whether it counts."""

    text: str  # '"a b"' or '"ab"*'
    column: str | None
    words: int
    counted: bool  # False under a NOT's right side

    @property
    def match(self) -> str:
        return f"{self.column} : {self.text}" if self.column else self.text


def _parse(expression: str) -> Any:
    """The expression `fts5_syntax` writes as a tree: ("p", text, words) | ("col", name, tree) |
    ("and" | "or", [trees]) | ("not", left, right); ValueError on anything else. FTS5's precedence:
    NOT binds tighter than AND, AND than OR."""
    tokens: list[tuple[str, ...]] = []
    pos = 0
    while pos < len(expression):
        if expression[pos] == " ":
            pos += 1
            continue
        m = _TOKEN.match(expression, pos)
        if m is None:
            raise ValueError(expression)
        if m.group(1) is not None:
            inner = m.group(1).replace('""', '"')
            tokens.append(("p", m.group(0), str(len(word_parts(inner)))))
        elif m.group(3) is not None:
            tokens.append(("col", m.group(3)))
        else:
            tokens.append((m.group(0),))
        pos = m.end()
    at = 0

    def peek() -> str | None:
        return tokens[at][0] if at < len(tokens) else None

    def take() -> tuple[str, ...]:
        nonlocal at
        at += 1
        return tokens[at - 1]

    def primary() -> Any:
        token = take()
        if token[0] == "p":
            return ("p", token[1], int(token[2]))
        if token[0] == "col":
            return ("col", token[1], primary())
        if token[0] == "(":
            tree = disjunction()
            if take()[0] != ")":
                raise ValueError(expression)
            return tree
        raise ValueError(expression)

    def negation() -> Any:
        tree = primary()
        while peek() == "NOT":
            take()
            tree = ("not", tree, primary())
        return tree

    def chained(operator: str, operand: Callable[[], Any]) -> Any:
        """operand (OPERATOR operand)*: the operand alone, or (operator in lower case, [operands])."""
        trees = [operand()]
        while peek() == operator:
            take()
            trees.append(operand())
        return trees[0] if len(trees) == 1 else (operator.lower(), trees)

    def conjunction() -> Any:
        return chained("AND", negation)

    def disjunction() -> Any:
        return chained("OR", conjunction)

    tree = disjunction()
    if at != len(tokens):
        raise ValueError(expression)
    return tree


def any_of_phrases(expression: str) -> bool:
    """True when `expression` is a phrase or an OR of phrases (column filters allowed): nothing but its phrases'
    instances decides a match."""

    def flat(node: Any) -> bool:
        return node[0] == "p" or (node[0] == "col" and flat(node[2])) or (node[0] == "or" and all(map(flat, node[1])))

    try:
        return flat(_parse(expression))
    except (ValueError, IndexError):
        return False


def phrases(expression: str) -> list[Phrase] | None:
    """The phrases bm25() scores for `expression`, in order, or None for a shape scored with bm25() itself."""
    try:
        tree = _parse(expression)
    except (ValueError, IndexError):
        return None
    found: list[Phrase] = []

    def flat(node: Any, column: str | None, counted: bool) -> bool:  # a phrase or an OR of phrases
        if node[0] == "p":
            found.append(Phrase(node[1], column, node[2], counted))
            return True
        if node[0] == "col":
            return column is None and node[1] in COLUMNS and flat(node[2], node[1], counted)
        return node[0] == "or" and all(flat(n, column, counted) for n in node[1])

    def spine(node: Any, column: str | None) -> bool:  # matched at every row the whole expression matches
        if node[0] == "and":
            return all(spine(n, column) for n in node[1])
        if node[0] == "not":
            return spine(node[1], column) and flat(node[2], column, False)
        if node[0] == "col" and node[2][0] in ("and", "not"):
            return column is None and node[1] in COLUMNS and spine(node[2], node[1])
        return flat(node, column, True)

    return found if spine(tree, None) else None
