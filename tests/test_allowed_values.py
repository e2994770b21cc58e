"""The allowed chunks of a filter built from the doc values and the owners table (`store.allowed`,
`store.article_mask`) are exactly what the SQL join `reads.allowed_chunk_ids` gives: over sources (case,
accents), date ranges (undated articles, the boundaries to the microsecond), labels, authors, Boolean
constraints, and after updates, deletions and new articles written by another connection between calls."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from archive.archive import open_archive
from archive.documents import Article
from archive.query import Query
from archive.query.parser import parse_query
from archive.store import allowed, owners, reads
from archive.store.allowed import AllowedChunks
from archive.store.vectors.selection import KEEP_IDS_BELOW, Selection
from archive.write import delete_article, ingest

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True, params=["table", "by-article"])
def way(request, monkeypatch) -> str:
    """Both ways of a first use: the owners table checked against SQL, and a narrow filter's chunks read by
    article id (every filter here is narrow: the bound decides)."""
    monkeypatch.setattr(allowed, "FEW_ARTICLES", 0 if request.param == "table" else 10**9)
    if request.param == "table":  # and the table's check always succeeds (no fall back to the SQL join)
        check = allowed.StoredChunks.owners

        def checked(self, *args):
            owners = check(self, *args)
            assert owners is not None
            return owners

        monkeypatch.setattr(allowed.StoredChunks, "owners", checked)
    return request.param


DAY = datetime(1987, 3, 2, tzinfo=UTC)  # midnight: the boundary of after:1987-03-02 and before:1987-03-02
SOURCES = ("Wire", "WIRE", "wire", "Zürich Zeitung", "zürich zeitung", "Courier", None)
WORDS = ("wheat harvest", "oil prices", "debt bonds", "copper output", "opec quota")


def body(n: int) -> str:
    """Long enough for several chunks for some articles (the owners table then maps many chunks to one)."""
    sentence = f"The {WORDS[n % 5]} report number {n} was filed by the desk on time. "
    return sentence * (1 + 12 * (n % 4))


def corpus(count: int = 40, tag: str = "") -> list[Article]:
    """Articles over several sources, dates around the boundary (one undated in five), labels and authors."""
    stamps = (
        DAY,
        DAY - timedelta(microseconds=1),
        DAY + timedelta(microseconds=1),
        DAY + timedelta(days=7),
        DAY - timedelta(days=400),
    )
    return [
        Article(
            uid=f"a{tag}{n}",
            title=f"Report {tag}{n} on {WORDS[n % 5]}",
            body=body(n) + tag,
            source=SOURCES[n % len(SOURCES)],
            author=("Jane Smith", "J. SMITHERS", "100% Ltd", None)[n % 4],
            published_at=stamps[n % 5] if n % 5 != 4 else None,
            extra={"topics": [("grain", "crude", "money-fx")[n % 3]], "places": ["usa", "uk"][: 1 + n % 2]},
        )
        for n in range(count)
    ]


def queries(labels: dict[str, str]) -> list[Query]:
    texts = (
        "source:wire",
        "source:Wire",
        'source:"zürich zeitung"',
        'source:"ZÜRICH ZEITUNG"',
        "source:nobody",
        "after:1987-03-02",
        "before:1987-03-02",
        "after:1987-03-01 before:1987-03-03",
        "after:1987-03-02 before:1987-03-03",
        "after:1980-01-01 before:1990-01-01",
        "topic:grain",
        "topic:crude place:uk",
        "topic:nothing",
        "source:wire topic:money-fx after:1987-03-02",
        "+wheat",
        "oil -opec",
        "-harvest",
        '"debt bonds"',
        "+copper source:courier",
        "-opec before:1987-03-09 topic:grain",
    )
    parsed = [parse_query(t, labels) for t in texts]
    return parsed + [
        Query(author="smith"),
        Query(author="SMITH", after=date(1987, 3, 2)),
        Query(author="100%"),
        Query(author="_"),
        Query(source="wi\x00re"),
        Query(labels=(("topics", "Grain"),)),  # stored lower-cased: matches nothing, as in SQL
        Query(labels=(("mood", "calm"),)),  # a field the doc values do not hold: read from SQL
        Query(labels=(("places", "usa"),), author="jane"),
    ]


def first_use(archive) -> AllowedChunks:
    """A cache of no filters: every `selection` is a first use, from the doc values and the owners table."""
    values = (archive.doc_values, archive.chunk_owners, tuple(archive.settings.labels.values()))
    return AllowedChunks(archive.engine, archive.keyword, 0, values)


def assert_same_as_sql(archive, fresh: AllowedChunks) -> int:
    """Every query's selection equals the SQL join's ids (bitmap, count, kept ids); the number that allow some."""
    some = 0
    with archive.engine.connect() as conn:
        top = reads.max_chunk_id(conn)
        for query in queries(archive.settings.labels):
            expected = Selection.of(reads.allowed_chunk_ids(conn, archive.keyword, query), top)
            got = fresh.selection(query)
            assert got is not None
            assert got.count == expected.count, query
            assert np.array_equal(got.bitmap, expected.bitmap), query
            assert got.ids is not None and expected.ids is not None  # few ids: both keep them
            assert np.array_equal(got.ids, expected.ids), query
            some += expected.count > 0
    return some


def test_first_use_from_memory_is_the_sql_join(archive):
    ingest(archive, corpus())
    some = assert_same_as_sql(archive, first_use(archive))
    assert some >= len(queries(archive.settings.labels)) // 2  # most filters allow something: not all empty


def test_the_same_after_updates_deletions_and_additions_by_another_connection(
    archive, settings, hash_encoder, way, monkeypatch
):
    looks = []
    look = allowed.StoredChunks._look
    monkeypatch.setattr(allowed.StoredChunks, "_look", lambda self, *args: looks.append(1) or look(self, *args))
    ingest(archive, corpus())
    fresh = first_use(archive)
    assert_same_as_sql(archive, fresh)  # the owners table is now written and mapped
    table = archive.chunk_owners.table()
    moved = corpus()[5]
    with archive.engine.connect() as conn:
        old_chunks = [c for c, a in reads.chunk_owner_rows(conn) if a == archive_id(archive, moved.uid)]
    other = open_archive(settings, encoder=hash_encoder)
    try:  # new text, another source and date: the article's old chunks are gone, their table entries stay
        ingest(other, [replace(moved, body=moved.body + " Revised.", source="Courier", published_at=DAY)])
        delete_article(other, corpus()[7].uid)
        ingest(other, corpus(12, tag="b"))
    finally:
        other.close()
    assert all(table[c] != 0 for c in old_chunks)  # the stale entries the check has to drop
    assert_same_as_sql(archive, fresh)
    assert_same_as_sql(archive, first_use(archive))  # and a cache that never saw the old state
    assert not looks  # the updated article's stale entries known from its new chunks: no read of every id


def test_a_table_with_holes_is_mended_from_sql(archive, settings, hash_encoder):
    ingest(archive, corpus())
    archive.chunk_owners.table()
    files = list((settings.index_dir / owners.FOLDER).glob("*" + owners.SUFFIX))
    assert len(files) == 1 and files[0].with_suffix(owners.WHOLE).exists()
    updated = corpus()[3]  # several chunks
    with archive.engine.connect() as conn:  # its chunks' entries go stale with the update
        stale = [c for c, a in reads.chunk_owner_rows(conn) if a == archive_id(archive, updated.uid)]
    ingest(archive, [replace(updated, body=updated.body + " Revised.")])
    written = np.fromfile(files[0], dtype=np.int32)
    lived = [c for c in np.flatnonzero(written).tolist() if c not in stale]
    written[lived[3 : 3 + len(stale)]] = 0  # as many holes as stale entries: a count alone would not tell
    written.tofile(files[0])
    files[0].with_suffix(owners.WHOLE).unlink()  # what a table folded by an older version looks like
    reader = open_archive(settings, encoder=hash_encoder)
    try:
        assert not reader.chunk_owners.whole and len(stale) > 1
        assert_same_as_sql(reader, first_use(reader))
    finally:
        reader.close()


def test_an_unmarked_table_with_no_hole_is_marked_after_one_look(archive, settings, hash_encoder, way):
    ingest(archive, corpus(12))
    archive.chunk_owners.table()
    (table_file,) = (settings.index_dir / owners.FOLDER).glob("*" + owners.SUFFIX)
    table_file.with_suffix(owners.WHOLE).unlink()  # as an older version left it
    reader = open_archive(settings, encoder=hash_encoder)
    try:
        assert not reader.chunk_owners.whole
        assert_same_as_sql(reader, first_use(reader))
        assert table_file.with_suffix(owners.WHOLE).exists() == (way == "table")
    finally:
        reader.close()


def test_the_archive_cache_extends_a_first_use_with_later_chunks(archive):
    ingest(archive, corpus(20))
    query = parse_query("source:wire", archive.settings.labels)
    first = archive.allowed.selection(query)
    assert first is not None and first.count > 0
    ingest(archive, corpus(20, tag="c"))
    later = archive.allowed.selection(query)
    assert later is not None and later.count > first.count
    with archive.engine.connect() as conn:
        expected = reads.allowed_chunk_ids(conn, archive.keyword, query)
    assert np.array_equal(later.id_array(), np.sort(expected))


def test_without_doc_values_the_sql_join_is_read(archive, settings, hash_encoder):
    ingest(archive, corpus(10))
    plain = open_archive(replace(settings, doc_values=False), encoder=hash_encoder)
    try:
        query = parse_query("topic:grain", plain.settings.labels)
        got = plain.allowed.selection(query)
        with plain.engine.connect() as conn:
            expected = reads.allowed_chunk_ids(conn, plain.keyword, query)
        assert got is not None and np.array_equal(got.id_array(), np.sort(expected))
    finally:
        plain.close()


def test_a_wide_selection_keeps_no_id_list():
    bits = np.zeros(KEEP_IDS_BELOW + 10, dtype=bool)
    bits[1:] = True
    wide = Selection.of_bits(bits)
    assert wide.ids is None and wide.count == len(bits) - 1
    assert np.array_equal(wide.bitmap, Selection.of(np.arange(1, len(bits)), len(bits) - 1).bitmap)


def archive_id(archive, uid: str) -> int:
    from sqlalchemy import select

    from archive.store.models import ArticleRow

    with archive.engine.connect() as conn:
        return int(conn.scalar(select(ArticleRow.id).where(ArticleRow.uid == uid)))
