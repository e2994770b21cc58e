"""`store.idlists.among`: one bound parameter for an IN list of any length, on either backend."""

from __future__ import annotations

from sqlalchemy import delete, insert, select

from archive.documents import Article
from archive.store.idlists import among
from archive.store.models import ArticleRow, BucketRow
from archive.write import ingest


def test_among_finds_exactly_the_listed_values_past_sqlites_parameter_cap(archive):
    keys = [(-(2**62) + 7919 * i) for i in range(40_000)]  # signed 63-bit keys, more than 32,766 parameters
    ingest(archive, [Article(title=f"Story {i}", body=f"Report number {i}.", uid=f"a{i}") for i in range(3)])
    with archive.engine.begin() as conn:
        conn.execute(delete(BucketRow))
        ids = [r[0] for r in conn.execute(select(ArticleRow.id).order_by(ArticleRow.id))]
        conn.execute(insert(BucketRow), [{"bucket": keys[i * 100], "article_id": ids[i]} for i in range(3)])
        conn.execute(insert(BucketRow), [{"bucket": 5, "article_id": ids[0]}])  # not asked for
        found = conn.execute(select(BucketRow.bucket, BucketRow.article_id).where(among(conn, BucketRow.bucket, keys)))
        assert sorted(found) == sorted((keys[i * 100], ids[i]) for i in range(3))
        assert conn.execute(select(BucketRow.bucket).where(among(conn, BucketRow.bucket, []))).all() == []
        uids = conn.execute(select(ArticleRow.uid).where(among(conn, ArticleRow.uid, ["a2", "a0", "zz"]))).scalars()
        assert sorted(uids) == ["a0", "a2"]
