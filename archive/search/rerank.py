"""Learned re-ranking of the hybrid fusion's best candidates from cheap per-candidate features.

The z-score fusion adds the two sides' standardised scores with fixed weights. A few more facts about each
of the fused best `rerank_window` candidates say which one the searcher means: how many of the query's words
the article holds (a journalist's three remembered words), each side's rank and raw score, the best chunk's
cosine. A linear model over them (one set of coefficients for short queries, one for longer ones) orders
that window again; the rest keeps the fusion's order. The coefficients are data: `bench/fit_fusion.py` fits
them (pairwise logistic regression on news headlines, news keyword queries and SciFact claims together)
and writes `rerank_weights.py`. Measurements: docs/search.md ("Learned re-ranking").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from archive.archive import Archive
from archive.config import Settings
from archive.fusion import normalised
from archive.query import Query
from archive.search import rerank_weights
from archive.search.justify import optional_words
from archive.search.terms import keyword_word_count
from archive.store import reads

FEATURES = (
    "keyword_z",  # the keyword side's BM25 standardised over its window (absent: the window's lowest)
    "semantic_z",  # the same for the semantic side's article score
    "keyword_in",  # 1 when the keyword side found the article
    "semantic_in",  # 1 when the semantic side found it
    "keyword_log_rank",  # log of its keyword rank (absent: log of the window's size + 1)
    "semantic_log_rank",
    "keyword_ratio",  # its BM25 over the best BM25 (absent: 0)
    "cosine",  # its best chunk's cosine (absent from the semantic window: the window's lowest)
    "fused",  # the fused score
    "fused_log_rank",  # log of its place in the fused order
    "coverage",  # share of the query's ranking words the article holds (title or body)
)


def features(
    keyword: Sequence[tuple[int, float]],
    semantic: Sequence[tuple[int, float, int, float]],
    fused: Sequence[tuple[int, float]],
    coverage: Mapping[int, float],
) -> np.ndarray:
    """One row of `FEATURES` per article of `fused` (in its order), from the two sides' windows.

    `keyword`: (article, BM25) best first; `semantic`: (article, score, best chunk, its cosine) best first;
    `coverage`: article -> share of the query's words it holds (absent: 0).
    """
    kw = dict(keyword)
    sem = {a: s for a, s, _, _ in semantic}
    cos = {a: c for a, _, _, c in semantic}
    kz, k_low = normalised(kw, "zscore")
    sz, s_low = normalised(sem, "zscore")
    k_rank = {a: i for i, (a, _) in enumerate(keyword, start=1)}
    s_rank = {a: i for i, (a, *_) in enumerate(semantic, start=1)}
    k_missing, s_missing = math.log(len(keyword) + 1), math.log(len(semantic) + 1)
    k_top = keyword[0][1] if keyword and keyword[0][1] else 1.0
    c_low = min(cos.values()) if cos else 0.0
    rows = []
    for place, (a, score) in enumerate(fused, start=1):
        rows.append(
            (
                kz.get(a, k_low),
                sz.get(a, s_low),
                float(a in kw),
                float(a in sem),
                math.log(k_rank[a]) if a in k_rank else k_missing,
                math.log(s_rank[a]) if a in s_rank else s_missing,
                kw.get(a, 0.0) / k_top,
                cos.get(a, c_low),
                score,
                math.log(place),
                coverage.get(a, 0.0),
            )
        )
    return np.array(rows, dtype=np.float64).reshape(-1, len(FEATURES))


def coefficients(short: bool) -> np.ndarray:
    """The fitted coefficients for a short or a longer query, in `FEATURES` order."""
    table = rerank_weights.SHORT if short else rerank_weights.LONG
    return np.array([table[name] for name in FEATURES], dtype=np.float64)


def order(rows: np.ndarray, coef: np.ndarray) -> list[int]:
    """Positions of `rows` best first by the linear score; ties keep the fused order."""
    scores = rows @ coef
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


def coverage(
    archive: Archive, query: Query, article_ids: Sequence[int]
) -> tuple[dict[int, float], dict[int, tuple[str, ...]]]:
    """Share of the query's optional words each article holds, and the words themselves (one look-up)."""
    words = optional_words(query)
    if not words or not article_ids:
        return {}, {}
    with archive.engine.connect() as conn:
        held = reads.matched_words(conn, archive.keyword, words, list(article_ids))
    matched = {a: tuple(w for w in words if w in held.get(a, ())) for a in article_ids}
    return {a: len(m) / len(words) for a, m in matched.items()}, matched


def rerank(
    archive: Archive,
    settings: Settings,
    query: Query,
    keyword: Sequence[tuple[int, float]],
    semantic: Sequence[tuple[int, float, int, float]],
    fused: list[tuple[int, float]],
) -> tuple[list[tuple[int, float]], dict[int, tuple[str, ...]]]:
    """`fused` with its best `rerank_window` ordered by the model, and the words each of those holds.

    The window's articles keep their fused scores, given out again in the new order (so a sort by score,
    and what normalises them later, sees the same set of values); the rest is unchanged.
    """
    window = fused[: settings.rerank_window]
    if len(window) < 2:
        return fused, {}
    shares, matched = coverage(archive, query, [a for a, _ in window])
    words = keyword_word_count(query)
    coef = coefficients(0 < words <= settings.short_query_words)
    places = order(features(keyword, semantic, window, shares), coef)
    scores = [s for _, s in window]
    return [(window[i][0], scores[n]) for n, i in enumerate(places)] + fused[len(window) :], matched
