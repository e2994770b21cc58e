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
    _, mine = archive.stored_vectors(own)  # exact (SQL's), whatever the index type
    if not len(mine):
        return []  # no vectors (an archive older than stored vectors, not yet backfilled): nothing to compare
    target = _unit(mine.mean(axis=0))
    hits = archive.vectors.search(target, RELATED_CHUNKS + len(own))
    owners = archive.chunk_owners.lookup([cid for cid, _ in hits])
    others = list(dict.fromkeys(owners[cid] for cid, _ in hits if owners.get(cid, article_id) != article_id))
    if not others:
        return []
    with archive.engine.connect() as conn:
        chunk_rows = reads.chunks_of_articles(conn, others)
    owner = dict(chunk_rows)
    ids, matrix = archive.stored_vectors([cid for cid, _ in chunk_rows])
    by_article: dict[int, list[int]] = {}
    for row, cid in enumerate(ids.tolist()):
        by_article.setdefault(owner[cid], []).append(row)
    # Rank by article-vector cosine (mean of chunk vectors), the same measure as the duplicate test.
    scored = []
    for aid in others:
        rows = by_article.get(aid)
        if not rows:
            continue
        theirs = matrix[rows]
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


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm > 0 and math.isfinite(norm) else vector).astype(np.float32)
