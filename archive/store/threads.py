"""Every statement about story threads (`article_threads`): the write path's windows and the readers' threads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select

from archive.store.models import ArticleRow, ChunkRow, SignatureRow, ThreadRow
from archive.store.reads import batches

Fact = tuple[int, datetime | None, str, int | None, int | None]  # (id, time, title, story id, thread id)


def _facts(where: Any) -> Any:
    at = func.coalesce(ArticleRow.published_at, ArticleRow.ingested_at)
    return (
        select(ArticleRow.id, at, ArticleRow.title, SignatureRow.story_id, ThreadRow.thread_id)
        .outerjoin(SignatureRow, SignatureRow.article_id == ArticleRow.id)
        .outerjoin(ThreadRow, ThreadRow.article_id == ArticleRow.id)
        .where(where)
    )


def _fact(row: Row[Any]) -> Fact:
    at = row[1]
    if isinstance(at, str):  # SQLite returns coalesce() of two DATETIME columns as text
        at = datetime.fromisoformat(at)
    return (int(row[0]), at, row[2] or "", row[3], row[4])


def facts(conn: Connection, article_ids: Sequence[int]) -> list[Fact]:
    """(id, time, title, story id, thread id) of these articles; time is published_at, else ingested_at."""
    out: list[Fact] = []
    for part in batches(article_ids):
        out += [_fact(r) for r in conn.execute(_facts(ArticleRow.id.in_(part)))]
    return out


def window(conn: Connection, start: datetime, end: datetime) -> list[Fact]:
    """The facts of every article published (else ingested) between these times."""
    at = func.coalesce(ArticleRow.published_at, ArticleRow.ingested_at)
    return [_fact(r) for r in conn.execute(_facts(at.between(start, end)))]


def all_facts(conn: Connection) -> list[Fact]:
    """The facts of every article (the backfill's input)."""
    return [_fact(r) for r in conn.execute(_facts(ArticleRow.id > 0))]


def chunk_ids(conn: Connection, article_ids: Sequence[int] | None = None) -> list[tuple[int, int]]:
    """(chunk id, article id) of these articles' chunks (of every article when None)."""
    query = select(ChunkRow.id, ChunkRow.article_id)
    if article_ids is None:
        return [(int(c), int(a)) for c, a in conn.execute(query)]
    out: list[tuple[int, int]] = []
    for part in batches(article_ids):
        out += [(int(c), int(a)) for c, a in conn.execute(query.where(ChunkRow.article_id.in_(part)))]
    return out


def save(conn: Connection, rows: Sequence[tuple[int, int, datetime | None]]) -> None:
    """Set (article id, thread id, time) for these articles, replacing what they had."""
    forget(conn, [a for a, _, _ in rows])
    values = [{"article_id": a, "thread_id": t, "at": at} for a, t, at in rows]
    for start in range(0, len(values), 5000):
        conn.execute(insert(ThreadRow), values[start : start + 5000])


def forget(conn: Connection, article_ids: Sequence[int]) -> None:
    """Drop these articles' threads (an updated article is threaded afresh)."""
    for part in batches(article_ids):
        conn.execute(delete(ThreadRow).where(ThreadRow.article_id.in_(part)))


def clear(conn: Connection) -> None:
    """Forget every thread (a rebuild starts from here)."""
    conn.execute(delete(ThreadRow))


def counts(conn: Connection) -> tuple[int, int, int]:
    """(threaded articles, threads, threads of more than one article)."""
    sizes = select(ThreadRow.thread_id, func.count().label("n")).group_by(ThreadRow.thread_id).subquery()
    row = conn.execute(
        select(func.coalesce(func.sum(sizes.c.n), 0), func.count(), func.count().filter(sizes.c.n > 1))
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


# --- read path --------------------------------------------------------------------------------


def thread_sizes(conn: Connection, article_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """article id -> (its thread id, the thread's size), for those of these articles that are threaded."""
    mine: dict[int, int] = {}
    for part in batches(article_ids):
        mine.update(
            (int(a), int(t))
            for a, t in conn.execute(
                select(ThreadRow.article_id, ThreadRow.thread_id).where(ThreadRow.article_id.in_(part))
            )
        )
    sizes: dict[int, int] = {}
    for part in batches(sorted(set(mine.values()))):
        sizes.update(
            (int(t), int(n))
            for t, n in conn.execute(
                select(ThreadRow.thread_id, func.count())
                .where(ThreadRow.thread_id.in_(part))
                .group_by(ThreadRow.thread_id)
            )
        )
    return {a: (t, sizes.get(t, 1)) for a, t in mine.items()}


def members(conn: Connection, thread_id: int, limit: int) -> list[Row[Any]]:
    """The thread's articles (id, uid, title, source, url, published_at), oldest first, at most `limit`."""
    return list(
        conn.execute(
            select(
                ArticleRow.id,
                ArticleRow.uid,
                ArticleRow.title,
                ArticleRow.source,
                ArticleRow.url,
                ArticleRow.published_at,
            )
            .join(ThreadRow, ThreadRow.article_id == ArticleRow.id)
            .where(ThreadRow.thread_id == thread_id)
            .order_by(ThreadRow.at, ArticleRow.id)
            .limit(limit)
        )
    )


def size(conn: Connection, thread_id: int) -> int:
    """How many articles the thread holds."""
    return int(
        conn.execute(select(func.count()).select_from(ThreadRow).where(ThreadRow.thread_id == thread_id)).scalar_one()
    )


def uids(conn: Connection) -> list[tuple[int, str]]:
    """(id, uid) of every article (a benchmark's labels name uids)."""
    return [(int(a), str(u)) for a, u in conn.execute(select(ArticleRow.id, ArticleRow.uid))]
