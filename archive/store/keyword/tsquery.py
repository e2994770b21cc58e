"""The query language compiled to PostgreSQL `to_tsquery` input (the tsquery dialect of `query.compile`); pure."""

from __future__ import annotations

import re

from archive.query import Query, compile_query
from archive.query.compile import InfixDialect

__all__ = ["TSQUERY_DIALECT", "_lexeme", "to_tsquery_text"]


def _lexeme(part: str) -> str:
    """One tsquery operand, quoted: whatever the text, it is a single operand (never syntax)."""
    return "'" + part.replace("\\", "\\\\").replace("'", "''") + "'"


def _atom(parts: list[str]) -> str:
    """A word, or a phrase of words one position apart."""
    return _lexeme(parts[0]) if len(parts) == 1 else "(" + " <-> ".join(map(_lexeme, parts)) + ")"


_QUOTED = re.compile(r"'(?:[^']|'')*'(:\*)?")


class _Tsquery(InfixDialect):
    """The query language spelled as `to_tsquery` input: every operand quoted, every group parenthesised.

    `word*` is a lexeme prefix (`'export':*`); `title:` labels each lexeme of its expression with
    the title's weight A (`'iran':A`), the tsvector's weight of title words.
    """

    OR, AND, AND_NOT = " | ", " & ", " & !"
    atom = staticmethod(_atom)

    @staticmethod
    def prefix(parts: list[str]) -> str:
        return _lexeme(parts[0]) + ":*" if len(parts) == 1 else _atom(parts)

    @staticmethod
    def field(name: str, expression: str) -> str:
        if name != "title":
            raise ValueError(f"no field {name!r} in the keyword index")
        return _QUOTED.sub(lambda m: m.group(0) + "A" if m.group(1) else m.group(0) + ":A", expression)


TSQUERY_DIALECT = _Tsquery()


def to_tsquery_text(query: Query) -> str | None:
    """Compile to `to_tsquery('archive_english', ...)` input (never a syntax error), or None when nothing is positive.

    The shape is `to_fts5`'s (`query.compile`): the Boolean constraint AND the optional words, minus
    exclusions. PostgreSQL stems each quoted operand; there are no stop words (as in FTS5).
    """
    return compile_query(query, TSQUERY_DIALECT)
