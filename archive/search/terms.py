"""The words a keyword ranking uses: hyphenated words split, repeats once, stopwords out."""

from __future__ import annotations

from dataclasses import replace

from archive.query import Query, word_parts

# Lucene's English stop set: left out of keyword matching when a query has other words
# (huge posting lists, ~0 BM25 weight, and they say nothing about which passage matters).
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    ]
)


def ranking_terms(query: Query, number_weight: int = 1) -> Query:
    """The query with hyphenated and similar bare words split into their parts (``TNF-alpha`` -> tnf, alpha).

    The parser keeps a punctuated word as one token, which a keyword index matches as a
    phrase: "TNF-alpha" would miss "TNF alpha" and "alpha-TNF"; as optional ranking words
    the parts do better (SciFact train nDCG@10 0.688 -> 0.701). Words with a one-letter
    part (U.S., don't, IL-6) stay phrases: a lone letter would match almost everything.
    Stopwords are dropped when other words (or prefixes, or required clauses) remain: BM25
    gives them ~0 weight anyway (same nDCG), but they made nearly every article "match" and
    the query 2x slower.

    With `number_weight` n > 1 a ranking word holding a digit (``1987``, ``3RD``, ``S100A9``,
    ``IL-6``) is listed n times, which BM25 counts n times on both backends: a year, an amount or
    a model number names one story or finding more sharply than its idf says (news headlines
    and SciFact claims together; docs/search.md). Matching is unchanged (an OR of the same words).
    """
    terms: dict[str, str] = {}  # by normalised form: "melanoma" and "melanoma." are one word, counted once
    for term in query.terms:
        parts = word_parts(term)
        if len(parts) > 1 and all(len(p) > 1 for p in parts):
            terms.update((p, p) for p in parts if p not in terms)
        elif parts:
            terms.setdefault(" ".join(parts), term)
    content = tuple(t for key, t in terms.items() if key not in STOPWORDS)
    others = query.prefixes or query.required  # a Boolean query's own words count as other words
    kept = content or (() if others else tuple(terms.values()))
    if number_weight > 1:
        kept = tuple(t for term in kept for t in [term] * (number_weight if _holds_digit(term) else 1))
    return replace(query, terms=kept, text_for_embedding=query.text_for_embedding)


def _holds_digit(term: str) -> bool:
    return any(ch.isdigit() for ch in term)


def keyword_word_count(query: Query) -> int:
    """How many distinct words the keyword side looks for: ranking words, prefixes and required words, stopwords out."""
    words = {w.lower() for w in ranking_terms(query).positive_words}
    return len(words - STOPWORDS)


def passage_terms(terms: list[str]) -> list[str]:
    """Highlight terms without stopwords (unless nothing else is left): what a passage should show."""
    return [t for t in terms if t not in STOPWORDS] or terms
