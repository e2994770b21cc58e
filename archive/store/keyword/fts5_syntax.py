"""The query language spelled in SQLite FTS5 syntax: every token quoted, every group parenthesised."""

from __future__ import annotations

from archive.query import Node, Query, compile_expression, compile_query
from archive.query.compile import InfixDialect

TABLE = "article_fts"
COLUMNS = ("title", "body")  # a field search names one of these (query.SEARCH_FIELDS)


def _fts_string(parts: list[str]) -> str:
    """One FTS5 string (a phrase when several parts); quotes doubled for safety."""
    return '"' + " ".join(parts).replace('"', '""') + '"'


class _Fts5(InfixDialect):
    """The query language spelled in FTS5 syntax: every token quoted, every group parenthesised."""

    atom = staticmethod(_fts_string)

    @staticmethod
    def prefix(parts: list[str]) -> str:
        return _fts_string(parts) + "*"

    @staticmethod
    def field(name: str, expression: str) -> str:
        if name not in COLUMNS:
            raise ValueError(f"no column {name!r} in {TABLE}")
        return f"{name} : {expression}"  # an atom, a prefix, or a parenthesised group


FTS5 = _Fts5()


def to_fts5(query: Query) -> str | None:
    """Compile to an SQLite FTS5 MATCH expression (never a syntax error), or None when nothing is positive."""
    return compile_query(query, FTS5)


def expression_to_fts5(expression: Node | None) -> str | None:
    """A Boolean tree as an FTS5 MATCH expression, or None when it requires nothing positive."""
    return compile_expression(expression, FTS5)


__all__ = ["COLUMNS", "FTS5", "TABLE", "expression_to_fts5", "to_fts5"]
