"""One result per story: near copies (`write.stories`) fold into the best-ranked version of their story.

Applied to the ranked candidate list, whatever ranked it: the first version of a story in the
request's order stands for it (the best-ranked for relevance, the newest or oldest for a date
sort) and the story's other versions ride along as `versions`. Totals and facets then count
stories.

Keyword mode and browsing (`folded_page`): the counting statement counts stories itself
(`KeywordIndex.facet_counts(stories=True)`, `reads.browse_counts`), and the page folds a
bounded window of the ranked matches, widened only while its representatives do not fill the
page. Semantic and hybrid modes (`collapsed`): the bounded candidate set is folded whole, and
every folded copy is taken off the counts of its source and day. The cost is one look-up of story
ids for the window or the candidates, one of the folded copies' sources and days (semantic and
hybrid), and one of the page's versions.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np

from archive.archive import Archive
from archive.dates import iso_utc
from archive.limits import COLLAPSE_WINDOW
from archive.search.results import Candidate, RelatedArticle, SearchResult, Version
from archive.store import duplicates, reads, threads
from archive.store.docvalues import Snapshot
from archive.store.filters import LabelCounts

Counts = dict[tuple[str | None, date | None], int]
# (offset, limit, need) -> (total, its relation, counts, ranked, the ids of every result or None): Searcher._ranked
Ranker = Callable[[int, int, int], tuple[int, str, Counts, list[Candidate], list[int] | None]]
WIDENINGS = 3  # semantic mode: times the candidate set may widen to fill a page with stories
WINDOW_FACTOR = 3  # keyword mode and browsing: the first window is this many times offset + limit ...
WINDOW_SLACK = 50  # ... and at least this many more than offset + limit


def folded_page(
    archive: Archive, page: Callable[[int], list[Candidate]], offset: int, limit: int, values: Snapshot | None = None
) -> tuple[list[Candidate], dict[int, int]]:
    """(the representatives at [offset, offset + limit), representative id -> story id) from `page(n)`, the
    first n matches in the request's order: a window of them is folded, and doubled while the kept
    representatives do not fill the page and the window came back full (more matches lie beyond it)."""
    want = offset + limit
    window = max(WINDOW_FACTOR * want, want + WINDOW_SLACK)
    while True:
        ranked = page(window)
        stories = _stories(archive, values, [c.article_id for c in ranked])
        kept, _ = fold(ranked, stories)
        if len(kept) >= want or len(ranked) < window:
            break
        window *= 2
    chosen = kept[offset:want]
    return chosen, {c.article_id: stories[c.article_id] for c in chosen if c.article_id in stories}


def collapsed(
    archive: Archive, rank: Ranker, offset: int, limit: int, need: int, values: Snapshot | None = None
) -> tuple[int, str, Counts, list[Candidate], list[int] | None, dict[int, int]]:
    """(stories, the total's relation, facet counts of stories, the page of representatives, the ids of every
    representative (None when the ranker gave none), representative id -> story id)."""
    want = offset + limit
    for _ in range(WIDENINGS):
        total, relation, counts, ranked, scope = rank(0, COLLAPSE_WINDOW, need)
        stories = _stories(archive, values, [c.article_id for c in ranked])
        kept, folded = fold(ranked, stories)
        if len(kept) >= want or len(ranked) < need:
            break
        need += len(folded)  # semantic mode widens with the page: ask for as many more as were folded
    if folded and values is not None:
        for key, n in values.facets(folded).items():
            _take(counts, key, n)
    elif folded:
        with archive.engine.connect() as conn:
            rows = reads.sources_and_dates(conn, folded)
        for _aid, source, published in rows:
            _take(counts, (source, published.date() if published else None))
    page = kept[offset:want]
    gone = set(folded)
    return (
        total - len(folded),
        relation,
        counts,
        page,
        None if scope is None else [a for a in scope if a not in gone],
        {c.article_id: stories[c.article_id] for c in page if c.article_id in stories},
    )


def fold(ranked: list[Candidate], stories: dict[int, int]) -> tuple[list[Candidate], list[int]]:
    """(the first candidate of each story, in order; the ids of the others)."""
    seen: set[int] = set()
    kept: list[Candidate] = []
    folded: list[int] = []
    for c in ranked:
        story = stories.get(c.article_id)
        if story is None:
            kept.append(c)
        elif story in seen:
            folded.append(c.article_id)
        else:
            seen.add(story)
            kept.append(c)
    return kept, folded


def versions(archive: Archive, stories: dict[int, int]) -> dict[int, list[Version]]:
    """article id -> the other versions of its story (oldest first), for these (article id, story id)."""
    if not stories:
        return {}
    with archive.engine.connect() as conn:
        rows = duplicates.story_members(conn, sorted(set(stories.values())))
    members: dict[int, list[Version]] = {}
    for r in rows:
        members.setdefault(int(r.story_id), []).append(
            Version(
                id=int(r.id),
                uid=r.uid,
                title=r.title or "",
                source=r.source,
                url=r.url,
                published_at=iso_utc(r.published_at),
            )
        )
    return {aid: [v for v in members.get(story, []) if v.id != aid] for aid, story in stories.items()}


Extras = tuple[dict[int, list[Version]], dict[int, tuple[int, int]]]


def extras(archive: Archive, article_ids: list[int], stories: dict[int, int], values: Snapshot | None = None) -> Extras:
    """(article id -> the other versions of its story, article id -> (its thread, the thread's size)) for these
    articles (one query for the versions, and the threads from the doc values, else two queries)."""
    found = versions(archive, {i: stories[i] for i in article_ids if i in stories})
    if values is not None:
        return found, values.threads(article_ids)
    with archive.engine.connect() as conn:
        return found, threads.thread_sizes(conn, article_ids)


def attach(
    archive: Archive,
    items: list[SearchResult] | list[RelatedArticle],
    stories: dict[int, int],
    found: Extras | None = None,
) -> None:
    """Fill in each item's `versions` and its story `thread` (`found`: `extras` already read for them)."""
    found_versions, threaded = found if found is not None else extras(archive, [i.id for i in items], stories)
    for item in items:
        item.versions = found_versions.get(item.id, [])
        thread = threaded.get(item.id)
        item.thread = {"id": thread[0], "size": thread[1]} if thread else None


def value_counts(
    values: Snapshot,
    article_ids: list[int],
    fields: list[str],
    sort: str | None,
    scores: Callable[[], dict[int, float]] | None = None,
) -> tuple[Counts, LabelCounts]:
    """(counts per (source, day), counts per label value of `fields`) of a match set from the doc values; with
    `sort`, each story once, under its first version in that order (the order `KeywordIndex.story_copies` uses:
    by relevance, `scores()`: those of the matches that have near copies, `KeywordIndex.grouped_scores`, asked
    for only when two versions of one story are among the matches)."""
    kept = np.asarray(article_ids, dtype=np.int64)
    if sort is not None:
        contested = values.contested(kept)
        got = scores() if scores is not None and len(contested) and sort == "relevance" else None
        copies = values.copies(contested, sort, got)
        if copies:
            kept = np.setdiff1d(kept, np.asarray(copies, dtype=np.int64))
    return values.facets(kept), values.label_counts(fields, kept)


def _stories(archive: Archive, values: Snapshot | None, article_ids: list[int]) -> dict[int, int]:
    """article id -> story id of these articles that have near copies (from the doc values when given)."""
    if values is not None:
        return values.stories(article_ids)
    with archive.engine.connect() as conn:
        return duplicates.story_ids(conn, article_ids)


def _take(counts: Counts, key: tuple[str | None, date | None], by: int = 1) -> None:
    n = counts.get(key, 0) - by
    if n > 0:
        counts[key] = n
    else:
        counts.pop(key, None)
