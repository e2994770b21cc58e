"""Every statement about near copies: signatures, LSH buckets, judged pairs and story ids (write and read paths)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, or_, select, update

from archive.store.idlists import among
from archive.store.models import ArticleRow, BucketRow, NearCopyRow, SignatureRow
from archive.store.reads import batches

STORY_IN_LIMIT = 1000  # candidates looked up by an IN list; above this, every grouped article is read
SignatureData = tuple[bytes, int, datetime | None, str]  # (minhash bytes, shingle count, published_at, title)


# --- write path -------------------------------------------------------------------------------


def article_texts(conn: Connection, article_ids: Sequence[int]) -> list[tuple[int, str, str, datetime | None]]:
    """(id, title, body, published_at) of those articles."""
    out: list[tuple[int, str, str, datetime | None]] = []
    for part in batches(article_ids):
        out += [
            (int(i), t or "", b or "", p)
            for i, t, b, p in conn.execute(
                select(ArticleRow.id, ArticleRow.title, ArticleRow.body, ArticleRow.published_at).where(
                    ArticleRow.id.in_(part)
                )
            )
        ]
    return out


def unsigned_article_ids(conn: Connection, after_id: int, limit: int) -> list[int]:
    """Ids of articles without a signature, above `after_id`, in id order (the backfill's pages)."""
    rows = conn.execute(
        select(ArticleRow.id)
        .outerjoin(SignatureRow, SignatureRow.article_id == ArticleRow.id)
        .where(SignatureRow.article_id.is_(None), ArticleRow.id > after_id)
        .order_by(ArticleRow.id)
        .limit(limit)
    )
    return [int(r[0]) for r in rows]


def count_unsigned(conn: Connection) -> int:
    """Articles without a signature (made before near copies were detected)."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(ArticleRow)
            .outerjoin(SignatureRow, SignatureRow.article_id == ArticleRow.id)
            .where(SignatureRow.article_id.is_(None))
        ).scalar_one()
    )


def forget(conn: Connection, article_ids: Sequence[int]) -> list[int]:
    """Drop these articles' signatures, buckets and pairs (before they are re-signed); their former partners.

    Only the articles that have a signature are looked for (an article's buckets and pairs are written with
    its signature): a new article costs one key look-up, not a scan of the buckets by article."""
    signed = [
        int(a)
        for part in batches(article_ids)
        for (a,) in conn.execute(select(SignatureRow.article_id).where(SignatureRow.article_id.in_(part)))
    ]
    if not signed:
        return []
    mine = set(article_ids)
    partners = [p for p in neighbours(conn, signed) if p not in mine]
    for part in batches(signed):
        conn.execute(delete(NearCopyRow).where(or_(NearCopyRow.low_id.in_(part), NearCopyRow.high_id.in_(part))))
        conn.execute(delete(BucketRow).where(BucketRow.article_id.in_(part)))
        conn.execute(delete(SignatureRow).where(SignatureRow.article_id.in_(part)))
    return partners


def save_signatures(conn: Connection, rows: Sequence[tuple[int, bytes, int, Sequence[int]]]) -> None:
    """Store (article id, minhash, shingle count, buckets) of articles that have none."""
    if not rows:
        return
    conn.execute(
        insert(SignatureRow), [{"article_id": a, "minhash": m, "shingles": n, "story_id": None} for a, m, n, _ in rows]
    )
    pairs = [(b, a) for a, _, _, bs in rows for b in dict.fromkeys(bs)]
    if not pairs:  # articles without a word have no buckets (and an empty executemany is no statement)
        return
    if conn.dialect.name == "sqlite":  # 48 rows an article: the driver's executemany of tuples, not a dict per row
        conn.exec_driver_sql(f"INSERT INTO {BucketRow.__tablename__} (bucket, article_id) VALUES (?, ?)", pairs)
        return
    buckets = [{"bucket": b, "article_id": a} for b, a in pairs]
    for start in range(0, len(buckets), 5000):
        conn.execute(insert(BucketRow), buckets[start : start + 5000])


def bucket_mates(conn: Connection, buckets: Iterable[int]) -> dict[int, set[int]]:
    """bucket -> the articles in it, for these buckets (the LSH look-up)."""
    out: dict[int, set[int]] = {}
    keys = list(dict.fromkeys(buckets))
    if not keys:
        return out
    for bucket, article_id in conn.execute(
        select(BucketRow.bucket, BucketRow.article_id).where(among(conn, BucketRow.bucket, keys))
    ):
        out.setdefault(int(bucket), set()).add(int(article_id))
    return out


def signatures(conn: Connection, article_ids: Iterable[int]) -> dict[int, SignatureData]:
    """article id -> (minhash, shingle count, published_at, title) for those that have a signature."""
    out: dict[int, SignatureData] = {}
    for part in batches(list(article_ids)):
        for a, m, n, p, t in conn.execute(
            select(
                SignatureRow.article_id,
                SignatureRow.minhash,
                SignatureRow.shingles,
                ArticleRow.published_at,
                ArticleRow.title,
            )
            .join(ArticleRow, ArticleRow.id == SignatureRow.article_id)
            .where(SignatureRow.article_id.in_(part))
        ):
            out[int(a)] = (bytes(m), int(n), p, t or "")
    return out


def save_pairs(conn: Connection, pairs: Sequence[tuple[int, int, float]]) -> None:
    """Record judged near copies (a, b, similarity); each pair once, smaller id first."""
    seen: dict[tuple[int, int], float] = {}
    for a, b, sim in pairs:
        if a != b:
            seen[(min(a, b), max(a, b))] = sim
    rows = [{"low_id": lo, "high_id": hi, "similarity": s} for (lo, hi), s in seen.items()]
    for start in range(0, len(rows), 5000):
        conn.execute(insert(NearCopyRow), rows[start : start + 5000])


def pairs_touching(conn: Connection, article_ids: Iterable[int]) -> set[tuple[int, int]]:
    """Every recorded pair (smaller id, larger id) with one of these articles in it."""
    ids = list(article_ids)
    if not ids:
        return set()
    rows = conn.execute(
        select(NearCopyRow.low_id, NearCopyRow.high_id).where(
            or_(among(conn, NearCopyRow.low_id, ids), among(conn, NearCopyRow.high_id, ids))
        )
    )
    return {(int(lo), int(hi)) for lo, hi in rows}


def neighbours(conn: Connection, article_ids: Iterable[int]) -> set[int]:
    """Every article paired with one of these."""
    return {a for pair in pairs_touching(conn, article_ids) for a in pair}


def set_stories(conn: Connection, stories: dict[int, int | None]) -> None:
    """article id -> its story id (None: no copies)."""
    by_story: dict[int | None, list[int]] = {}
    for article_id, story in stories.items():
        by_story.setdefault(story, []).append(article_id)
    for story, ids in by_story.items():
        for part in batches(ids):
            conn.execute(update(SignatureRow).where(SignatureRow.article_id.in_(part)).values(story_id=story))


def clear(conn: Connection) -> None:
    """Forget every signature, bucket and pair (a rebuild starts from here)."""
    for model in (NearCopyRow, BucketRow, SignatureRow):
        conn.execute(delete(model))


def all_ids(conn: Connection) -> list[tuple[int]]:
    """Every signed article id, in order (a benchmark's sample)."""
    return [(int(r[0]),) for r in conn.execute(select(SignatureRow.article_id).order_by(SignatureRow.article_id))]


def count(conn: Connection) -> int:
    """Signed articles."""
    return int(conn.execute(select(func.count()).select_from(SignatureRow)).scalar_one())


# --- read path --------------------------------------------------------------------------------


def story_ids(conn: Connection, article_ids: Sequence[int]) -> dict[int, int]:
    """article id -> story id, for those of these articles that have near copies.

    A long candidate list (a broad keyword query, browsing) reads every grouped article instead (an
    index range on `story_id`): on Reuters 885 rows in 1 ms, where an IN list of 15,000 ids took 218 ms.
    """
    out: dict[int, int] = {}
    if len(article_ids) > STORY_IN_LIMIT:
        wanted = set(article_ids)
        rows = conn.execute(
            select(SignatureRow.article_id, SignatureRow.story_id).where(SignatureRow.story_id.is_not(None))
        )
        return {int(a): int(s) for a, s in rows if a in wanted}
    for part in batches(article_ids):
        for a, s in conn.execute(
            select(SignatureRow.article_id, SignatureRow.story_id).where(
                SignatureRow.article_id.in_(part), SignatureRow.story_id.is_not(None)
            )
        ):
            out[int(a)] = int(s)
    return out


def story_members(conn: Connection, stories: Sequence[int]) -> list[Row[Any]]:
    """The articles of these stories (story_id, id, uid, title, source, url, published_at), oldest first."""
    out: list[Row[Any]] = []
    for part in batches(stories):
        out += list(
            conn.execute(
                select(
                    SignatureRow.story_id,
                    ArticleRow.id,
                    ArticleRow.uid,
                    ArticleRow.title,
                    ArticleRow.source,
                    ArticleRow.url,
                    ArticleRow.published_at,
                )
                .join(ArticleRow, ArticleRow.id == SignatureRow.article_id)
                .where(SignatureRow.story_id.in_(part))
                .order_by(ArticleRow.published_at, ArticleRow.id)
            )
        )
    return out


def grouped_counts(conn: Connection) -> tuple[int, int]:
    """(stories with more than one version, articles in them)."""
    row = conn.execute(
        select(func.count(func.distinct(SignatureRow.story_id)), func.count(SignatureRow.story_id))
    ).one()
    return int(row[0]), int(row[1])
