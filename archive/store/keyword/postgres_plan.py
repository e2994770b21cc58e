"""The statistics a PostgreSQL BM25 ranking is planned from (`postgres.py` explains the formula and the bound):
each positive lexeme's idf (times its repeats among the ranking words), the mean length, and the rarest lexemes
whose matches are ranked first when the match set may be large."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import Connection, text

from archive.query import Query, phrase_parts, word_parts
from archive.query.nodes import Phrase, Prefix, Term, leaves
from archive.store.keyword.postgres_schema import CONFIG

K1, B = 1.2, 0.75
CANDIDATE_BOUND = 5_000  # matches scored before a ranking first tries the rarest lexemes' matches alone
IDF_FLOOR = 1e-6  # FTS5's floor for terms in more than half the articles


def _positive_words(query: Query) -> tuple[str, str, str]:
    """(all positive words, the words of required phrases and words, the ranking words with their repeats)
    as plain text, for their lexemes."""
    words = [p for t in query.terms for p in word_parts(t)]
    required: list[str] = []
    for leaf in leaves(query.boolean):
        if isinstance(leaf, Term):
            required += word_parts(leaf.word)
        elif isinstance(leaf, Phrase):
            required += phrase_parts(leaf.words)
        elif isinstance(leaf, Prefix):
            continue  # a prefix has no lexeme of its own to count: it ranks through the other words
    return " ".join(words + required), " ".join(required), " ".join(words)


def _idf(docs: int, df: int) -> float:
    """FTS5's idf: ln((N - df + 0.5) / (df + 0.5)), floored for words in more than half the articles."""
    ratio = (docs - df + 0.5) / (df + 0.5)
    return max(math.log(ratio), IDF_FLOOR) if ratio > 0 else IDF_FLOOR


@dataclass(frozen=True)
class _Plan:
    """A ranking's statistics: lexemes with their idf, the mean length, and the bounded first pass."""

    lexemes: list[str]
    idfs: list[float]
    avgdl: float
    essential: list[str] | None  # the rarest lexemes, whose matches are ranked first (None: rank every match)
    ceiling: float  # above every score of a match holding no essential lexeme


def _plan(conn: Connection, query: Query) -> _Plan:
    words, required, ranking = _positive_words(query)
    # `times`: how often the ranking words hold the lexeme (FTS5 sums a repeated word once per
    # occurrence, e.g. a number listed `number_weight` times, or "export exports").
    rows = conn.execute(
        text(
            "SELECT l.lexeme, coalesce(t.df, 0) AS df, "
            f"l.lexeme = ANY(tsvector_to_array(to_tsvector('{CONFIG}', :required))) AS required, "
            "coalesce((SELECT cardinality(r.positions) "
            f"FROM unnest(to_tsvector('{CONFIG}', :ranking)) AS r WHERE r.lexeme = l.lexeme), 1) AS times "
            f"FROM unnest(tsvector_to_array(to_tsvector('{CONFIG}', :words))) AS l(lexeme) "
            "LEFT JOIN keyword_terms t ON t.lexeme = l.lexeme ORDER BY df, l.lexeme"
        ),
        {"words": words, "required": required, "ranking": ranking},
    ).all()
    docs, tokens = (int(v) for v in conn.execute(text("SELECT docs, tokens FROM keyword_totals")).one())
    lexemes = [r.lexeme for r in rows]
    idfs = [_idf(docs, r.df) * max(int(r.times), 1) for r in rows]
    most = min(docs, sum(r.df for r in rows), *(r.df for r in rows if r.required))
    essential: list[str] = []
    if most > CANDIDATE_BOUND:
        total = 0
        for r in rows:  # rarest first
            if essential and total + r.df > CANDIDATE_BOUND:
                break
            essential.append(r.lexeme)
            total += r.df
    ceiling = (K1 + 1) * sum(idf for lexeme, idf in zip(lexemes, idfs, strict=True) if lexeme not in essential)
    bounded = essential if 0 < len(essential) < len(lexemes) else None
    return _Plan(lexemes, idfs, tokens / docs if docs else 1.0, bounded, ceiling)
