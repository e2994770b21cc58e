"""Learned re-ranking of the hybrid fusion's best candidates from cheap per-candidate features.

The z-score fusion adds the two sides' standardised scores with fixed weights. A few more facts about each
of the fused best `rerank_window` candidates say which one the searcher means: how many of the query's words
the article holds (a journalist's three remembered words), how many of the query's adjacent word pairs it holds
as phrases (a headline's wording), how much of the words few of the window's articles hold it holds (the story's
own event, where every candidate holds the company's name), each side's rank and raw score, the best and the first
chunk's cosine (read for every article of the window from the loaded index). A linear model over them and over the
products of eight of them two by two (`INTERACTIONS`: a word fact may count by how close the meaning is; `expanded`
computes them; `TERMS` names every column), one set of coefficients for short queries and one for longer ones,
orders that window again; the rest keeps the fusion's order. The coefficients are data: `bench/fit_fusion.py` fits
them (pairwise logistic regression on news headlines, weighed 3, news keyword queries and SciFact claims together)
and writes `rerank_weights.py`. Measurements: docs/search.md ("Third round" to "Eighth round").
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import Executor
from itertools import pairwise

import numpy as np

from archive.archive import Archive
from archive.config import Settings
from archive.fusion import normalised
from archive.query import Node, Phrase, Query, word_parts
from archive.search import rerank_weights
from archive.search.justify import chunk_cosines, optional_words
from archive.search.terms import STOPWORDS, keyword_word_count
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
    "phrases",  # share of the query's adjacent word pairs it holds as phrases (`query_pairs`; none: 0)
    "best_cosine",  # its best chunk's cosine, read for every article of the window (none: the window's lowest)
    "lead_cosine",  # its first chunk's cosine (the same)
    "rare_words",  # share of the query words' weight within the window it holds (`window_shares`; none: 0)
)
VECTOR_FEATURES = ("best_cosine", "lead_cosine")  # the facts `vector_facts` reads
# Products of two facts (squares too), each its own coefficient, named "a*b" in the tables: how much a word fact
# counts may depend on how close the meaning is, and back (docs/search.md, "Sixth round" and "Eighth round").
INTERACTED = ("keyword_z", "semantic_z", "cosine", "coverage", "phrases", "best_cosine", "lead_cosine", "rare_words")
INTERACTIONS = tuple((a, b) for i, a in enumerate(INTERACTED) for b in INTERACTED[i:])
TERMS = FEATURES + tuple(f"{a}*{b}" for a, b in INTERACTIONS)  # the model's columns: the tables' keys, in order
_LEFT = [FEATURES.index(a) for a, _ in INTERACTIONS]
_RIGHT = [FEATURES.index(b) for _, b in INTERACTIONS]
MAX_PAIRS = 16  # `query_pairs`: the first this many pairs of a long query
MAX_PAIR_GAP = 1  # `query_pairs`: at most this many stopwords between the two words of a pair


def features(
    keyword: Sequence[tuple[int, float]],
    semantic: Sequence[tuple[int, float, int, float]],
    fused: Sequence[tuple[int, float]],
    coverage: Mapping[int, float],
    phrases: Mapping[int, float] | None = None,
    vectors: Mapping[int, tuple[float, float]] | None = None,
    rare: Mapping[int, float] | None = None,
) -> np.ndarray:
    """One row of `FEATURES` per article of `fused` (in its order), from the two sides' windows.

    `keyword`: (article, BM25) best first; `semantic`: (article, score, best chunk, its cosine) best first;
    `coverage`: article -> share of the query's words it holds (absent: 0); `rare`: `window_shares` (absent: 0).
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
    v_low = min((min(v) for v in (vectors or {}).values()), default=0.0)
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
                (phrases or {}).get(a, 0.0),
                *(vectors or {}).get(a, (v_low, v_low)),
                (rare or {}).get(a, 0.0),
            )
        )
    return np.array(rows, dtype=np.float64).reshape(-1, len(FEATURES))


def expanded(rows: np.ndarray) -> np.ndarray:
    """Rows of `FEATURES` (as `features` gives them) with the `INTERACTIONS` products after them: rows of `TERMS`."""
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURES))
    return np.hstack([rows, rows[:, _LEFT] * rows[:, _RIGHT]])


def touching(names: Collection[str]) -> list[int]:
    """Positions in `TERMS` of the terms that involve any of `names`: the features and their products."""
    return [i for i, term in enumerate(TERMS) if set(term.split("*")) & set(names)]


def coefficients(short: bool) -> np.ndarray:
    """The fitted coefficients for a short or a longer query, in `TERMS` order."""
    table = rerank_weights.SHORT if short else rerank_weights.LONG
    return np.array([table[name] for name in TERMS], dtype=np.float64)


def order(rows: np.ndarray, coef: np.ndarray) -> list[int]:
    """Positions of `rows` (of `FEATURES`) best first by the linear score over `TERMS` (`coef`, as `coefficients`
    gives them); ties keep the fused order."""
    scores = expanded(rows) @ coef
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


def query_pairs(query: Query) -> dict[str, Node]:
    """The query's adjacent ranking words as phrases (label -> node), stopwords between them kept in the phrase:
    ``trade deficit widens in january`` -> "trade deficit", "deficit widens", "widens in january"."""
    terms = query.text_for_embedding.split()  # the positive words in the order typed, repeats kept
    content = [i for i, t in enumerate(terms) if " ".join(word_parts(t)).lower() not in STOPWORDS and word_parts(t)]
    pairs: dict[str, Node] = {}
    for i, j in pairwise(content):
        if j - i <= MAX_PAIR_GAP + 1:
            span = tuple(terms[i : j + 1])
            pairs.setdefault("~" + " ".join(span).lower(), Phrase(span))
    return dict(list(pairs.items())[:MAX_PAIRS])


def coverage(
    archive: Archive, query: Query, article_ids: Sequence[int]
) -> tuple[dict[int, float], dict[int, tuple[str, ...]]]:
    """Share of the query's optional words each article holds, and the words themselves (one look-up)."""
    shares, _, matched = held(archive, query, article_ids, pairs=False)
    return shares, matched


def held(
    archive: Archive, query: Query, article_ids: Sequence[int], *, pairs: bool = True
) -> tuple[dict[int, float], dict[int, float], dict[int, tuple[str, ...]]]:
    """Share of the query's optional words each article holds, share of its word pairs it holds as phrases
    (`query_pairs`, title or body), and the words themselves: one look-up for all of them."""
    words = optional_words(query)
    phrases = query_pairs(query) if pairs else {}
    if not (words or phrases) or not article_ids:
        return {}, {}, {}
    with archive.engine.connect() as conn:
        found = reads.matched_words(conn, archive.keyword, {**words, **phrases}, list(article_ids))
    matched = {a: tuple(w for w in words if w in found.get(a, ())) for a in article_ids}
    shares = {a: len(m) / len(words) for a, m in matched.items()} if words else {}
    in_phrase = {a: sum(p in found.get(a, ()) for p in phrases) / len(phrases) for a in article_ids} if phrases else {}
    return shares, in_phrase, matched


def window_shares(matched: Mapping[int, Sequence[str]]) -> dict[int, float]:
    """Share of the query words' weight within the window each article holds (`matched`: the window's articles and
    the query words each holds, as `held` gives them). A word held by d of the window's n articles weighs
    log((n + 1) / (d + 0.5)): the name every candidate shares weighs little, the words of one story's event much; a
    word no article of the window holds does not count. No read: the window's own words."""
    n = len(matched)
    held_by = Counter(w for words in matched.values() for w in set(words))
    weight = {w: math.log((n + 1) / (d + 0.5)) for w, d in held_by.items()}
    total = sum(weight.values())
    if total <= 0:
        return {}
    return {a: sum(weight[w] for w in set(words)) / total for a, words in matched.items()}


def window_rows(
    keyword: Sequence[tuple[int, float]],
    semantic: Sequence[tuple[int, float, int, float]],
    window: Sequence[tuple[int, float]],
    found: tuple[dict[int, float], dict[int, float], dict[int, tuple[str, ...]]],
    vectors: Mapping[int, tuple[float, float]] | None,
) -> np.ndarray:
    """The window's rows of `FEATURES` from the two sides' windows, what `held` found and `vector_facts` read: the
    one assembly the re-ranking and its fitter (`bench.fit_fusion`) share."""
    shares, phrases, matched = found
    return features(keyword, semantic, window, shares, phrases, vectors, window_shares(matched))


def vector_facts(archive: Archive, query: Query, article_ids: Sequence[int]) -> dict[int, tuple[float, float]]:
    """`best_cosine` and `lead_cosine` of each article (`justify.chunk_cosines`)."""
    return chunk_cosines(archive, query, article_ids)


def rerank(
    archive: Archive,
    settings: Settings,
    query: Query,
    keyword: Sequence[tuple[int, float]],
    semantic: Sequence[tuple[int, float, int, float]],
    fused: list[tuple[int, float]],
    pool: Executor | None = None,
) -> tuple[list[tuple[int, float]], dict[int, tuple[str, ...]]]:
    """`fused` with its best `rerank_window` ordered by the model, and the words each of those holds.

    The window's articles keep their fused scores, given out again in the new order (so a sort by score,
    and what normalises them later, sees the same set of values); the rest is unchanged. With a `pool` the
    chunk cosines are read beside the word look-up.
    """
    window = fused[: settings.rerank_window]
    if len(window) < 2:
        return fused, {}
    ids = [a for a, _ in window]
    words = keyword_word_count(query)
    coef = coefficients(0 < words <= settings.short_query_words)
    # the chunk cosines are read only when the fitted model weighs them, alone or in a product (a statement and a
    # look-up of vectors)
    weighed = bool(coef[touching(VECTOR_FEATURES)].any())
    reading = pool.submit(vector_facts, archive, query, ids) if pool is not None and weighed else None
    found = held(archive, query, ids)
    vectors = None
    if weighed:
        vectors = reading.result() if reading is not None else vector_facts(archive, query, ids)
    places = order(window_rows(keyword, semantic, window, found, vectors), coef)
    scores = [s for _, s in window]
    return [(window[i][0], scores[n]) for n, i in enumerate(places)] + fused[len(window) :], found[2]
