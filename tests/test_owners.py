"""ChunkOwners: the in-memory chunk -> article table of the read path stays right as the archive grows."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from archive.documents import Article
from archive.write import delete_article, ingest

pytestmark = pytest.mark.integration


def sql_owners(archive) -> dict[int, int]:
    with archive.engine.connect() as conn:
        return {int(c): int(a) for c, a in conn.execute(text("SELECT id, article_id FROM chunks"))}


def test_lookup_matches_sql_and_learns_chunks_added_later(archive):
    ingest(
        archive, [Article(uid=f"o{i}", title=f"Story {i}", body=f"Grain exports rose on day {i}.") for i in range(3)]
    )
    first = sql_owners(archive)
    assert archive.chunk_owners.lookup(list(first)) == first  # loads the whole table once
    ingest(archive, [Article(uid="later", title="Later", body="Copper output fell sharply.")])
    everything = sql_owners(archive)
    assert len(everything) == len(first) + 1
    assert archive.chunk_owners.lookup(list(everything)) == everything  # the new chunk is found in SQL
    assert archive.chunk_owners.lookup([max(everything) + 1000, -1]) == {}  # unknown ids are left out
    assert archive.chunk_owners.lookup([]) == {}


def test_a_second_archive_handle_sees_another_writers_chunks(archive, settings, hash_encoder):
    from archive.archive import open_archive

    ingest(archive, [Article(uid="a", title="A", body="Tin prices slumped.")])
    reader = open_archive(settings, encoder=hash_encoder)
    assert reader.chunk_owners.lookup(archive.chunk_ids().tolist()) == sql_owners(archive)
    ingest(archive, [Article(uid="b", title="B", body="Zinc prices climbed.")])  # written by the other handle
    assert reader.chunk_owners.lookup(archive.chunk_ids().tolist()) == sql_owners(archive)
    delete_article(archive, "a")
    assert set(reader.chunk_owners.lookup(archive.chunk_ids().tolist())) == set(sql_owners(archive))
    reader.close()


def test_the_table_is_one_shared_mapped_file_that_follows_new_chunks(archive, settings, hash_encoder, monkeypatch):
    from archive.archive import open_archive
    from archive.store import owners

    ingest(archive, [Article(uid=f"s{i}", title=f"S {i}", body=f"Rubber output rose {i} pct.") for i in range(3)])
    reader = open_archive(settings, encoder=hash_encoder)
    assert reader.chunk_owners.lookup(archive.chunk_ids().tolist()) == sql_owners(archive)
    assert reader.chunk_owners.mapped  # written by the first process that needed it, then mapped
    files = list((settings.index_dir / owners.FOLDER).glob("*" + owners.SUFFIX))
    assert len(files) == 1
    second = open_archive(settings, encoder=hash_encoder)
    second.chunk_owners.lookup(archive.chunk_ids().tolist())
    assert second.chunk_owners.mapped
    assert list((settings.index_dir / owners.FOLDER).glob("*" + owners.SUFFIX)) == files  # mapped, not rewritten
    monkeypatch.setattr(owners, "REWRITE_AFTER", 1)  # the next new chunk folds the overlay into a new file
    ingest(archive, [Article(uid="new", title="New", body="Nickel stocks fell.")])
    assert second.chunk_owners.lookup(archive.chunk_ids().tolist()) == sql_owners(archive)
    newer = list((settings.index_dir / owners.FOLDER).glob("*" + owners.SUFFIX))
    assert len(newer) == 1 and newer != files and second.chunk_owners.mapped
    reader.close()
    second.close()


def test_a_table_that_disagrees_with_sql_is_rebuilt(archive, settings, hash_encoder):
    import numpy as np

    from archive.archive import open_archive
    from archive.store import owners

    ingest(archive, [Article(uid=f"w{i}", title=f"W {i}", body=f"Lead prices eased {i} pct.") for i in range(2)])
    ids = archive.chunk_ids()
    folder = settings.index_dir / owners.FOLDER
    folder.mkdir(exist_ok=True)
    wrong = np.full(int(ids.max()) + 1, 999, dtype=np.int32)  # another database's table
    (folder / f"{len(wrong) - 1:010d}{owners.SUFFIX}").write_bytes(wrong.tobytes())
    reader = open_archive(settings, encoder=hash_encoder)
    assert reader.chunk_owners.lookup(ids.tolist()) == sql_owners(archive)
    reader.close()


def test_a_rewritten_table_covers_every_chunk_below_its_end(archive, settings, hash_encoder, monkeypatch):
    from archive.archive import open_archive
    from archive.store import owners

    ingest(archive, [Article(uid=f"h{i}", title=f"H {i}", body=f"Cocoa crop rose {i} pct.") for i in range(2)])
    reader = open_archive(settings, encoder=hash_encoder)
    reader.chunk_owners.table()  # written and mapped: covers these chunks
    ingest(archive, [Article(uid=f"g{i}", title=f"G {i}", body=f"Sugar quota cut {i} pct.") for i in range(4)])
    monkeypatch.setattr(owners, "REWRITE_AFTER", 1)
    newest = int(archive.chunk_ids().max())
    reader.chunk_owners.lookup([newest])  # only the newest is asked for: the ones between are read too
    table = reader.chunk_owners.table()
    assert len(table) == newest + 1
    assert {c: int(table[c]) for c in sql_owners(archive)} == sql_owners(archive)
    reader.close()
