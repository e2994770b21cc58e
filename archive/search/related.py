"""Related coverage: the nearest other stories by article vector, without the article's own story; one entry per
story, its other versions alongside (the near-copy groups of `write.stories`, as in search)."""

from __future__ import annotations

import math

import numpy as np

from archive.archive import Archive
from archive.dates import iso_utc
from archive.documents import display_fields
from archive.errors import NotFound
from archive.limits import RELATED_MAX
from archive.reflow import display_text
from archive.search.collapse import attach, fold
from archive.search.results import Candidate, RelatedArticle
from archive.store import duplicates, reads

RELATED_CHUNKS = 400  # nearest chunks examined for related coverage
SNIPPET_CHARS = 240


def related(archive: Archive, key: str | int, limit: int) -> list[RelatedArticle]:
    """Nearest other stories by mean chunk vector: the article's own versions are not related coverage, and
    each other story is listed once (its best-placed version) with its other versions."""
    limit = max(1, min(int(limit), RELATED_MAX))
    with archive.session() as s:
        row = reads.find_article(s, key)
        if row is None:
            raise NotFound(f"no article with id or uid {str(key)[:80]!r}")
        article_id = row.id
    with archive.engine.connect() as conn:
        own = reads.article_chunk_ids(conn, article_id)
    _, mine = archive.chunk_vectors(own)  # exact, whatever the index type
    if not len(mine):
        return []  # no vectors (an archive older than stored vectors, not yet backfilled): nothing to compare
    target = _unit(mine.mean(axis=0))
    hits = archive.vectors.search(target, RELATED_CHUNKS + len(own))
    owners = archive.chunk_owners.lookup([cid for cid, _ in hits])
    others = list(dict.fromkeys(owners[cid] for cid, _ in hits if owners.get(cid, article_id) != article_id))
    if not others:
        return []
    with archive.engine.connect() as conn:
        stories = duplicates.story_ids(conn, [article_id, *others])
        chunk_rows = reads.chunks_of_articles(conn, others)
    own_story = stories.get(article_id)
    if own_story is not None:  # its own versions (re-sent or corrected copies) are not "related"
        others = [a for a in others if stories.get(a) != own_story]
    owner = dict(chunk_rows)
    ids, matrix = archive.chunk_vectors([cid for cid, _ in chunk_rows])  # exact
    by_article: dict[int, list[int]] = {}
    for row, cid in enumerate(ids.tolist()):
        by_article.setdefault(owner[cid], []).append(row)
    # Rank by article-vector cosine (mean of chunk vectors).
    scored = []
    for aid in others:
        rows = by_article.get(aid)
        if not rows:
            continue
        theirs = matrix[rows]
        scored.append((aid, float(_unit(theirs.mean(axis=0)) @ target)))
    scored.sort(key=lambda t: -t[1])
    best: dict[int, float] = dict(scored)
    kept, _ = fold([Candidate(a, score=best[a]) for a, _ in scored], stories)  # one entry per story
    items = _hydrate(archive, [(c.article_id, c.score) for c in kept[:limit]])
    attach(archive, items, stories)
    return items


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
