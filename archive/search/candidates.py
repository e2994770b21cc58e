"""The two sides of a search: keyword candidates (BM25 in SQL) and semantic candidates (FAISS), per article."""

from __future__ import annotations

from collections.abc import Sequence

from archive.archive import Archive
from archive.config import Settings
from archive.query import Query
from archive.search.terms import keyword_word_count, ranking_terms
from archive.store.vectors import Selection


def keyword_articles(archive: Archive, query: Query, limit: int, number_weight: int = 1) -> list[tuple[int, float]]:
    """(article id, BM25 over title + body) best first; filters and the Boolean constraint applied in SQL.

    `number_weight`: the hybrid keyword side counts a word holding a digit that many times. The
    semantic side blurs numbers (an embedding hardly tells 1986 from 1987), so in hybrid the keyword
    side carries them (news headlines and SciFact train both gain); keyword mode ranks by plain BM25
    (counting numbers twice there costs news headlines 0.5 to 0.9 points). docs/search.md.
    """
    with archive.engine.connect() as conn:
        terms = ranking_terms(query, number_weight)
        return archive.keyword.rank(conn, terms, limit, archive.settings.title_weight)


def fusion_weights(settings: Settings, query: Query) -> dict[str, float]:
    """Per-side hybrid weights: the configured ones, the semantic side's scaled down for a short query.

    A query of a few words (`short_query_words`, stopwords out) is what a journalist types from a
    remembered story: the words are the evidence, and their embedding is a weak description of
    it (news keyword queries: semantic alone 0.20 nDCG@10 against keyword 0.77), so the semantic
    weight is multiplied by `short_query_semantic_factor`. Longer queries (headlines, questions)
    keep equal weights. docs/search.md has the measurements.
    """
    semantic = settings.semantic_weight
    words = keyword_word_count(query)
    if 0 < words <= settings.short_query_words:
        semantic *= settings.short_query_semantic_factor
    return {"keyword": settings.keyword_weight, "semantic": semantic}


def allowed_chunks(archive: Archive, query: Query) -> Selection | None:
    """Chunks of articles passing the filters and the Boolean constraint; None for all.

    A quote, ``+``, ``AND`` or ``title:`` means "must contain" and a minus or ``NOT`` "must
    not", on the semantic side too, judged on the whole article like the keyword side;
    optional words restrict nothing (the meaning is embedded from the positive words).
    Kept per filter as a bitmap (`store.allowed`): a repeated filter reads only the chunks
    stored since its last use.
    """
    return archive.allowed.selection(query)


def semantic_article_scores(
    hits: Sequence[tuple[int, float]], owners: dict[int, int], chunk_bonus: float, bonus_window: int | None = None
) -> list[tuple[int, float, int, float]]:
    """Chunk hits -> (article id, score, best chunk id, its cosine), best first; score = best cosine + bonus
    per extra matching chunk.

    The bonus is each further chunk's cosine times `chunk_bonus`, counted only among the
    first `bonus_window` hits: a story that is about the query in several paragraphs
    edges out a one-paragraph brief with a marginally closer sentence, and widening the
    search for a deep page cannot reorder the articles already ranked.
    """
    best: dict[int, tuple[float, int]] = {}
    extra: dict[int, float] = {}
    limit = len(hits) if bonus_window is None else bonus_window
    for position, (chunk_id, cosine) in enumerate(hits):  # best first
        article_id = owners.get(chunk_id)
        if article_id is None:
            continue
        if article_id not in best:
            best[article_id] = (cosine, chunk_id)
        elif chunk_bonus and position < limit:
            extra[article_id] = extra.get(article_id, 0.0) + max(cosine, 0.0)
    scored = [(aid, cos + chunk_bonus * extra.get(aid, 0.0), cid, cos) for aid, (cos, cid) in best.items()]
    scored.sort(key=lambda t: -t[1])  # stable: ties keep FAISS order
    return scored


def semantic_articles(archive: Archive, query: Query, need: int) -> list[tuple[int, float, int, float]]:
    """(article id, score, best chunk id, its cosine) best first, among articles passing the filters.

    The FAISS search is restricted to allowed chunks before ranking, and widened until
    it yields `need` distinct articles (or runs out), so a narrow filter fills its page.
    """
    if not query.text_for_embedding.strip():
        return []
    allowed = allowed_chunks(archive, query)
    if allowed is not None and allowed.count == 0:
        return []
    settings = archive.settings
    vectors = archive.vectors
    vector = archive.encoder.encode_query(query.text_for_embedding)
    available = vectors.count if allowed is None else min(allowed.count, vectors.count)
    k = max(settings.candidates, 2 * need)
    while True:
        hits = vectors.search(vector, k, allowed)
        owners = archive.chunk_owners.lookup([cid for cid, _ in hits])
        scored = semantic_article_scores(hits, owners, settings.chunk_bonus, settings.candidates)
        if len(scored) >= need or len(hits) < k or k >= available:
            return scored
        k *= 4
