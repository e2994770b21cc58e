"""Related coverage: the nearest other articles by article vector, without the article itself or its near-copies."""

from __future__ import annotations

import math

import numpy as np

from archive.archive import Archive
from archive.dates import iso_utc
from archive.documents import display_fields
from archive.errors import NotFound
from archive.limits import RELATED_MAX
from archive.reflow import display_text
from archive.search.results import RelatedArticle
from archive.store import reads
from archive.store.vectors import VectorIndex

RELATED_CHUNKS = 400  # nearest chunks examined for related coverage
SNIPPET_CHARS = 240


def related(archive: Archive, key: str | int, limit: int) -> list[RelatedArticle]:
    """Nearest other articles by mean chunk vector; anything at `related_duplicate_cosine` or above is a copy."""
    limit = max(1, min(int(limit), RELATED_MAX))
    with archive.session() as s:
        row = reads.find_article(s, key)
        if row is None:
            raise NotFound(f"no article with id or uid {str(key)[:80]!r}")
        article_id = row.id
    with archive.engine.connect() as conn:
        own = reads.article_chunk_ids(conn, article_id)
    vectors = archive.vectors
    mine = _stored_vectors(vectors, own)
    if mine is None:
        return []  # no vectors yet (e.g. still being embedded): nothing to compare with
    target = _unit(mine.mean(axis=0))
    hits = vectors.search(target, RELATED_CHUNKS + len(own))
    owners = archive.chunk_owners.lookup([cid for cid, _ in hits])
    others = list(dict.fromkeys(owners[cid] for cid, _ in hits if owners.get(cid, article_id) != article_id))
    if not others:
        return []
    with archive.engine.connect() as conn:
        chunk_rows = reads.chunks_of_articles(conn, others)
    by_article: dict[int, list[int]] = {}
    for cid, aid in chunk_rows:
        by_article.setdefault(aid, []).append(cid)
    # Rank by article-vector cosine (mean of chunk vectors), the same measure as the duplicate test.
    scored = []
    for aid in others:
        theirs = _stored_vectors(vectors, by_article.get(aid, []))
        if theirs is None:
            continue
        cosine = float(_unit(theirs.mean(axis=0)) @ target)
        if cosine < archive.settings.related_duplicate_cosine:  # re-sent or corrected copies are not "related"
            scored.append((aid, cosine))
    scored.sort(key=lambda t: -t[1])
    return _hydrate(archive, scored[:limit])


def _hydrate(archive: Archive, scored: list[tuple[int, float]]) -> list[RelatedArticle]:
    """Load related articles in one query, in score order."""
    if not scored:
        return []
    with archive.engine.connect() as conn:
        rows = reads.related_rows(conn, [a for a, _ in scored])
    out = []
    for aid, cosine in scored:
        r = rows.get(aid)
        if r is None:
            continue
        out.append(
            RelatedArticle(
                **display_fields(r),
                published_at=iso_utc(r.published_at),
                score=round(cosine, 6),
                snippet=display_text(r.lead)[:SNIPPET_CHARS],
            )
        )
    return out


def _stored_vectors(vectors: VectorIndex, chunk_ids: list[int]) -> np.ndarray | None:
    """The vectors of those chunks that have one (a chunk may still await embedding); None if none do."""
    try:
        return vectors.vectors(chunk_ids) if chunk_ids else None
    except RuntimeError:  # FAISS: an id not in the index
        found = []
        for cid in chunk_ids:
            try:
                found.append(vectors.vectors([cid])[0])
            except RuntimeError:
                continue
        return np.stack(found) if found else None


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm > 0 and math.isfinite(norm) else vector).astype(np.float32)
