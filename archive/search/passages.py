"""One page of candidates -> results: each article's passage chunk, the best window in it, highlights."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from archive.archive import Archive
from archive.config import Settings
from archive.dates import iso_utc
from archive.documents import display_fields
from archive.reflow import display_text
from archive.search.justify import meaning_label
from archive.search.results import Candidate, SearchResult
from archive.search.terms import passage_terms
from archive.snippets import best_passage, highlight, highlight_spans, match_strength
from archive.store import reads

PASSAGE_CHARS = 300


def passage_chunks(archive: Archive, page: list[Candidate], terms: list[str]) -> dict[int, Any]:
    """Each page article's passage chunk (a row: id, article_id, seq, text, char_start), in two small queries.

    An article the keyword side found shows the chunk holding the most distinct query words
    (then the most hits), i.e. the passage whose highlights explain the match; ties go to
    the semantic best chunk, then to the earlier chunk. An article only the semantic side
    found shows the chunk that carried the meaning. Without any visible match: the semantic
    chunk, else the first. Chosen in Python over the page's own chunks (a few dozen), which
    costs well under a millisecond; a chunk-level FTS5 query for this cost ~7 ms per page.
    """
    shown = passage_terms(terms)
    lexical = [c.article_id for c in page if c.keyword_rank is not None or c.semantic_chunk is None]
    semantic = [c.semantic_chunk for c in page if c.semantic_chunk is not None]
    with archive.engine.connect() as conn:
        rows = reads.passage_chunks(conn, lexical, semantic)
    by_article: dict[int, list[Any]] = {}
    for row in rows:
        by_article.setdefault(row.article_id, []).append(row)
    chosen: dict[int, Any] = {}
    for c in page:
        chunks = by_article.get(c.article_id, [])
        if not chunks:
            continue  # deleted between ranking and hydration
        own = next((r for r in chunks if r.id == c.semantic_chunk), None)
        if c.keyword_rank is None and own is not None:
            chosen[c.article_id] = own
            continue
        strength = {r.id: match_strength(r.text, shown) for r in chunks}
        best = max(chunks, key=lambda r: (strength[r.id], r.id == c.semantic_chunk, -r.seq))
        chosen[c.article_id] = best if strength[best.id] > (0, 0) else (own or chunks[0])
    return chosen


def hydrate(
    archive: Archive,
    page: list[Candidate],
    terms: list[str],
    required: Sequence[str] = (),
    settings: Settings | None = None,
    explained: Future | None = None,
    articles: Future | None = None,
) -> list[SearchResult]:
    """Load the page's articles and passages in a few queries, in rank order (`required`: the words every
    result contains, listed first among its matched words; `explained`: the look-up of the candidates'
    matched words running beside the loading, waited for before the results are built; `articles`: the page's
    `article_rows`, read beside the passages)."""
    if not page:
        return []
    chunk_of = passage_chunks(archive, page, terms)
    arts = articles.result() if articles is not None else article_rows(archive, page)
    if explained is not None:
        explained.result()
    results = []
    for c in page:
        a, ch = arts.get(c.article_id), chunk_of.get(c.article_id)
        if a is None or ch is None:  # deleted between ranking and hydration
            continue
        start, end = best_passage(ch.text, terms, PASSAGE_CHARS)
        passage = display_text(ch.text[start:end])  # display text; the offsets below locate it in the body
        spans = highlight_spans(passage, terms)
        results.append(
            SearchResult(
                **display_fields(a),
                published_at=iso_utc(a.published_at),
                score=round(c.score, 6),
                passage=passage,
                passage_html=highlight(passage, terms, spans),
                highlights=spans,
                chunk_id=ch.id,
                chunk_seq=ch.seq,
                passage_start=ch.char_start + start,
                passage_end=ch.char_start + end,
                explain={
                    "keyword_rank": c.keyword_rank,
                    "semantic_rank": c.semantic_rank,
                    "keyword_score": _round(c.keyword_score),
                    "semantic_score": _round(c.semantic_score),
                    "fused_score": round(c.score, 6),
                    "cosine": _round(c.cosine),
                },
                matched_words=[*required, *(w for w in c.matched or () if w not in required)],
                meaning=meaning_label(c.cosine, settings or archive.settings),
            )
        )
    return results


def article_rows(archive: Archive, page: Sequence[Candidate]) -> dict[int, Any]:
    """The displayed fields of the page's articles, by id (`reads.result_rows`)."""
    with archive.engine.connect() as conn:
        return reads.result_rows(conn, [c.article_id for c in page])


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
