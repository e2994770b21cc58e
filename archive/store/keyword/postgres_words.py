"""The PostgreSQL keyword index's words: how many articles hold a word or a lexeme, the lexemes themselves, and
what the index makes of a word (spelling suggestions, `search/spelling.py`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, text

from archive.store.keyword.postgres_schema import CONFIG


def word_counts(conn: Connection, words: Sequence[str], least: int) -> dict[str, int]:
    """Articles holding each word's lexeme, exactly (`keyword_terms`, the word stemmed in the same statement)."""
    if not words:
        return {}
    rows = conn.execute(
        text(
            f"SELECT w, coalesce((SELECT t.df FROM keyword_terms AS t WHERE t.lexeme = (SELECT e.lexeme FROM "
            f"unnest(to_tsvector('{CONFIG}', archive_search_text(w))) AS e ORDER BY e.positions[1] LIMIT 1)), 0) "
            "FROM unnest(CAST(:words AS text[])) AS w"
        ),
        {"words": list(dict.fromkeys(words))},
    )
    return {w: int(df) for w, df in rows}


def stems(conn: Connection, words: Sequence[str]) -> dict[str, str]:
    """The lexeme each word is stored as: `to_tsvector` with the index's configuration (its first lexeme)."""
    if not words:
        return {}
    rows = conn.execute(
        text(
            f"SELECT w, (SELECT e.lexeme FROM unnest(to_tsvector('{CONFIG}', archive_search_text(w))) AS e "
            "ORDER BY e.positions[1] LIMIT 1) FROM unnest(CAST(:words AS text[])) AS w"
        ),
        {"words": list(dict.fromkeys(words))},
    )
    return {w: lexeme for w, lexeme in rows if lexeme}


def vocabulary(conn: Connection, min_docs: int) -> dict[str, int]:
    """Every lexeme held by at least `min_docs` articles (`keyword_terms`: one table scan)."""
    rows = conn.execute(text("SELECT lexeme, df FROM keyword_terms WHERE df >= :least"), {"least": min_docs})
    return {lexeme: int(df) for lexeme, df in rows}


def term_counts(conn: Connection, terms: Sequence[str]) -> dict[str, int]:
    """Articles holding each lexeme, from the document frequencies the triggers keep (`keyword_terms`)."""
    if not terms:
        return {}
    rows = conn.execute(
        text("SELECT lexeme, df FROM keyword_terms WHERE lexeme IN :terms").bindparams(
            bindparam("terms", expanding=True)
        ),
        {"terms": list(dict.fromkeys(terms))},
    )
    found = {lexeme: int(df) for lexeme, df in rows}
    return {term: found.get(term, 0) for term in terms}


class PostgresWords:
    """The index's word look-ups (`KeywordIndex.word_counts`, `term_counts`, `vocabulary`, `stems`)."""

    word_counts = staticmethod(word_counts)
    term_counts = staticmethod(term_counts)
    vocabulary = staticmethod(vocabulary)
    stems = staticmethod(stems)
