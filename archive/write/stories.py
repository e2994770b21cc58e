"""Near-copy groups kept current: sign articles as they are stored, judge their LSH candidates, re-form groups.

Called inside the write path's transactions (`ingest`, `delete_article`), so a story's groups change
with its articles or not at all. A group ("story") is a connected set of judged pairs; its id is its
smallest article id, so readers need one look-up per candidate list (`store.duplicates.story_ids`).
When a member changes or goes, the groups of its former partners are formed again from the pairs
that remain: an update that no longer matches leaves its old group, a delete can split one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from archive import duplicates as dup
from archive.archive import Archive, read_only
from archive.config import Settings
from archive.store import duplicates as store

BACKFILL_PAGE = 500  # articles signed and linked per transaction by the backfill


@dataclass
class BackfillReport:
    """What a backfill did."""

    articles: int = 0
    stories: int = 0  # stories with more than one version, in the whole archive afterwards
    grouped: int = 0  # articles in them
    seconds: float = 0.0

    def as_dict(self) -> dict:
        """JSON-ready summary."""
        return {**self.__dict__, "seconds": round(self.seconds, 3)}


def link(conn: Connection, settings: Settings, article_ids: Sequence[int]) -> None:
    """(Re-)sign these articles, record their near copies and re-form every group they touch. Caller commits."""
    if not article_ids:
        return
    partners = store.forget(conn, article_ids)  # an updated article starts afresh
    rows = []
    mine: dict[int, dup.Version] = {}
    for aid, title, body, published in store.article_texts(conn, article_ids):
        sig = dup.signature(title, body)
        keys = dup.buckets(sig)
        rows.append((aid, sig.to_bytes(), sig.shingles, keys))
        mine[aid] = dup.Version(sig, published, title)
    # the stored articles in these buckets (read before this step's rows go in: only theirs would come back
    # in bulk), then this step's own
    mates = store.bucket_mates(conn, [b for _, _, _, keys in rows for b in keys])
    for aid, _, _, keys in rows:
        for b in keys:
            mates.setdefault(b, set()).add(aid)
    store.save_signatures(conn, rows)
    candidates = {aid: set().union(*(mates.get(b, set()) for b in keys)) - {aid} for aid, _, _, keys in rows}
    known = {
        aid: dup.Version(dup.Signature.from_bytes(raw, n), published, title)
        for aid, (raw, n, published, title) in store.signatures(
            conn, set().union(*candidates.values()) - set(mine)
        ).items()
    }
    pairs = []
    for aid, others in candidates.items():
        for other in others:
            if other in mine and other < aid:
                continue  # judged from the other side
            theirs = mine.get(other) or known.get(other)
            if theirs is None:
                continue
            sim = dup.same_story(
                mine[aid], theirs, threshold=settings.duplicate_containment, hours=settings.duplicate_hours
            )
            if sim is not None:
                pairs.append((aid, other, round(sim, 4)))
    store.save_pairs(conn, pairs)
    reform(conn, set(article_ids) | set(partners) | {b for _, b, _ in pairs})


def unlink(conn: Connection, article_id: int) -> None:
    """An article is about to be deleted: drop its signature and pairs, and re-form its partners' groups."""
    partners = store.forget(conn, [article_id])
    reform(conn, partners)


def reform(conn: Connection, seeds: set[int] | list[int]) -> None:
    """Give every article in the groups of `seeds` its story id (the group's smallest id; None alone).

    The groups are walked together, one look-up of pairs per step away from the seeds (not one per
    seed: a step of an ingest re-forms hundreds of articles, nearly all of them alone), then split
    into connected components in memory."""
    pairs: set[tuple[int, int]] = set()
    reached, frontier = set(seeds), set(seeds)
    while frontier:
        found = store.pairs_touching(conn, frontier) - pairs
        pairs |= found
        frontier = {a for pair in found for a in pair} - reached
        reached |= frontier
    store.set_stories(conn, stories_of(reached, pairs))


def stories_of(articles: set[int], pairs: Iterable[tuple[int, int]]) -> dict[int, int | None]:
    """article -> its group's smallest id (None for an article alone): the connected components of `pairs`."""
    parent = {a: a for a in articles}

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)  # the smaller id stays the root: the story id
    roots = {a: root(a) for a in articles}
    sizes: dict[int, int] = {}
    for r in roots.values():
        sizes[r] = sizes.get(r, 0) + 1
    return {a: (r if sizes[r] > 1 else None) for a, r in roots.items()}


def backfill(
    archive: Archive, *, rebuild: bool = False, on_page: Callable[[int], None] | None = None
) -> BackfillReport:
    """Sign and link every article without a signature (all of them after `rebuild` clears the tables).

    Needs no model: MinHash over the stored text. One transaction per `BACKFILL_PAGE` articles, so an
    interrupted backfill keeps what it did and the next run goes on from there.
    """
    if archive.read_only:
        raise read_only(archive.index_dir)
    with archive.locked():
        return _backfill(archive, rebuild, on_page)


def _backfill(archive: Archive, rebuild: bool, on_page: Callable[[int], None] | None) -> BackfillReport:
    report = BackfillReport()
    started = time.perf_counter()
    if rebuild:
        with archive.engine.begin() as conn:
            store.clear(conn)
    after = 0
    while True:
        with archive.engine.begin() as conn:
            ids = store.unsigned_article_ids(conn, after, BACKFILL_PAGE)
            if not ids:
                break
            link(conn, archive.settings, ids)
        after = ids[-1]
        report.articles += len(ids)
        if on_page:
            on_page(report.articles)
    with archive.engine.connect() as conn:
        report.stories, report.grouped = store.grouped_counts(conn)
    report.seconds = time.perf_counter() - started
    return report
