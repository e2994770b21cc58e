"""What makes a candidate a result: the relevance floor, minimum-should-match, and "why it matched" in words.

Everything is "similar" to some degree, so a semantic or hybrid candidate window always fills;
a result is kept only when something justifies it (docs/search.md, "Relevance floor"):

- **by meaning**: its best chunk's cosine to the query is at least `relevance_floor`
  (calibrated on SciFact train: 98.9% of relevant articles are above 0.30, 16% of the
  non-relevant ones fall below; on Reuters, `bitcoin blockchain` peaks at 0.25), or
- **by words**: it contains enough of the query's optional words: all of a query of up to
  `min_match_all` words, else `min_match_share` (a third) of them rounded up (Lucene's
  minimum-should-match); required clauses hold for every candidate anyway.

Both rules apply in semantic and hybrid modes alike. Keyword mode and browsing are exact match
sets: every match contains what the query asks for, so all of them are justified.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from archive.archive import Archive
from archive.config import Settings
from archive.query import Node, Prefix, Query, Term
from archive.query.nodes import all_of, leaf_words, leaves
from archive.search.results import Candidate
from archive.search.terms import ranking_terms
from archive.store import reads


def optional_words(query: Query) -> dict[str, Node]:
    """The query's optional words and prefixes (label -> node), as the keyword side ranks them."""
    terms = ranking_terms(query)
    words: dict[str, Node] = {t: Term(t) for t in terms.terms}
    words.update((f"{p}*", Prefix(p)) for p in query.prefixes)
    return words


def required_words(query: Query) -> list[str]:
    """The words of the query's required clauses (every result contains them)."""
    out: list[str] = []
    for leaf in leaves(query.boolean):
        out.extend(w for w in leaf_words(leaf) if w not in out)
    return out


def needed_matches(count: int, settings: Settings) -> int:
    """How many of `count` optional words a keyword match needs to stand on its own."""
    if count <= settings.min_match_all:
        return count
    return max(1, min(count, math.ceil(settings.min_match_share * count - 1e-9)))


def by_meaning(c: Candidate, settings: Settings) -> bool:
    """True when the candidate's best chunk is at least the floor in cosine."""
    return c.cosine is not None and c.cosine >= settings.relevance_floor


def justified(archive: Archive, settings: Settings, query: Query, ranked: list[Candidate]) -> list[Candidate]:
    """The candidates that something justifies, in their order.

    Candidates above the floor are kept as they are. The words of the others are looked up over just those
    articles (unless the re-ranking already did, `search/rerank.py`): one match of all the words of a short
    query (all are needed), else each word's, in one statement. In
    hybrid mode only the keyword side's candidates can be justified by words (a semantic-only candidate
    below the floor is not among the best keyword matches either).
    """
    words = optional_words(query)
    need = needed_matches(len(words), settings)
    fill_cosines(archive, query, [c for c in ranked if c.cosine is None])
    hybrid = any(c.keyword_rank is not None for c in ranked)
    doubtful = [c for c in ranked if not by_meaning(c, settings) and (c.keyword_rank is not None or not hybrid)]
    looked_up = [c for c in doubtful if c.matched is not None]  # the re-ranking's look-up (search/rerank.py)
    sure: set[int] = {c.article_id for c in looked_up if len(c.matched or ()) >= need}
    doubtful = [c for c in doubtful if c.matched is None]
    if len(words) == 1 and query.boolean is None:  # the keyword side matched exactly that word: no look-up
        for c in doubtful:
            if c.keyword_rank is not None:
                c.matched = tuple(words)
                sure.add(c.article_id)
        doubtful = [c for c in doubtful if c.keyword_rank is None]
    if need and need == len(words) and doubtful:
        with archive.engine.connect() as conn:
            having = archive.keyword.containing(conn, all_of(words.values()), [c.article_id for c in doubtful])
        for c in doubtful:
            c.matched = tuple(words) if c.article_id in having else ()
    elif need:
        matched = _matched(archive, words, [c.article_id for c in doubtful])
        for c in doubtful:
            c.matched = tuple(w for w in words if w in matched.get(c.article_id, ()))
    # need == 0: a query of required clauses only, which every candidate satisfies (the keyword side
    # matched them; the semantic side was restricted to them).
    kept = sure | {c.article_id for c in doubtful if len(c.matched or ()) >= need}
    return [c for c in ranked if by_meaning(c, settings) or c.article_id in kept]


def explain_words(archive: Archive, query: Query, page: Sequence[Candidate]) -> None:
    """Fill in the matched words of a page whose candidates have none yet (keyword mode, browsing)."""
    todo = [c for c in page if c.matched is None]
    if not todo:
        return
    words = optional_words(query)
    matched = _matched(archive, words, [c.article_id for c in todo])
    for c in todo:
        c.matched = tuple(w for w in words if w in matched.get(c.article_id, ()))


def meaning_label(cosine: float | None, settings: Settings) -> str | None:
    """How strongly a result matched on meaning, in words (None: not by meaning)."""
    if cosine is None or cosine < settings.relevance_floor:
        return None
    return "close in meaning" if cosine >= settings.close_meaning else "loosely related in meaning"


def fill_cosines(archive: Archive, query: Query, candidates: list[Candidate]) -> None:
    """The best-chunk cosine of candidates the semantic window did not reach (keyword-only in hybrid mode),
    from their stored vectors: the floor judges every candidate on the same scale. (Hybrid mode fills them
    beside the fusion and re-ranking, which do not read them; `justified` fills any still missing.)"""
    if not candidates:
        return
    cosines = chunk_cosines(archive, query, [c.article_id for c in candidates])
    for c in candidates:
        c.cosine = cosines[c.article_id][0] if c.article_id in cosines else None


def chunk_cosines(archive: Archive, query: Query, article_ids: Sequence[int]) -> dict[int, tuple[float, float]]:
    """(best chunk cosine, first chunk cosine) to the query of each article that has a vector: its chunks' ids
    in one statement, their vectors from the loaded index (`Archive.chunk_vectors`; chunks not embedded yet have
    none)."""
    text = query.text_for_embedding.strip()
    if not text or not article_ids:
        return {}
    with archive.engine.connect() as conn:
        owner = dict(reads.chunks_of_articles(conn, list(article_ids)))
    ids, matrix = archive.chunk_vectors(list(owner))  # in id order: an article's first chunk comes first
    if not len(ids):
        return {}
    cosines = (matrix @ archive.encoder.encode_query(text).reshape(-1)).tolist()
    out: dict[int, tuple[float, float]] = {}
    for chunk_id, cosine in zip(ids.tolist(), cosines, strict=True):
        a = owner[int(chunk_id)]
        best, lead = out.get(a, (cosine, cosine))
        out[a] = (max(best, cosine), lead)
    return out


def _matched(archive: Archive, words: dict[str, Node], article_ids: list[int]) -> dict[int, set[str]]:
    if not words or not article_ids:
        return {}
    with archive.engine.connect() as conn:
        return reads.matched_words(conn, archive.keyword, words, article_ids)
