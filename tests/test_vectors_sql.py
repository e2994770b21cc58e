"""Vectors in SQL: committed with their chunks, the FAISS index rebuilt from them without the model, older
archives backfilled from their index file, related coverage reading them exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from archive.archive import open_archive
from archive.cli import main
from archive.encoders.hashing import HashEncoder
from archive.store import vector_rows
from archive.store.vectors import INDEX_FILE, read_manifest
from archive.write import ingest, recover_if_idle, reindex, writing
from tests.test_core import article, consistent

pytestmark = pytest.mark.integration

STORIES = [
    article("v-1", "The harbour reopened after the storm. Ferries sailed again on Tuesday."),
    article("v-2", "Coffee growers expect a record harvest as rains return to the highlands."),
    article("v-3", "Train drivers ended their strike after the union accepted a wage offer."),
]


class NoModel(HashEncoder):
    """Fails when asked for a vector: what it opens must be rebuilt from SQL alone."""

    def _encode_batch(self, texts: list[str]):
        raise AssertionError(f"the model was called for {len(texts)} chunks")


def stored(archive) -> tuple[np.ndarray, np.ndarray]:
    with archive.engine.connect() as conn:
        return vector_rows.read_vectors(conn, archive.chunk_ids().tolist())


def test_each_committed_chunk_has_its_vector_in_sql_equal_to_the_index(archive):
    ingest(archive, STORIES)
    ids, vectors = stored(archive)
    assert sorted(ids.tolist()) == sorted(archive.chunk_ids().tolist()) and len(ids) >= 3
    assert np.array_equal(archive.vectors.vectors(ids), vectors)  # the index holds SQL's (float16) values
    with archive.engine.connect() as conn:
        size = conn.execute(text("SELECT length(vector) FROM chunks LIMIT 1")).scalar_one()
    assert size == archive.vectors.dim * 2  # float16


def test_a_lost_index_file_is_rebuilt_from_sql_by_the_next_write_without_the_model(archive, settings):
    ingest(archive, STORIES)
    ids, before = stored(archive)
    archive.close()
    (settings.index_dir / INDEX_FILE).resolve().unlink()  # the published file
    reopened = open_archive(settings, encoder=NoModel())
    assert recover_if_idle(reopened)
    consistent(reopened)
    assert np.array_equal(reopened.vectors.vectors(ids), before)
    assert read_manifest(settings.index_dir).count == len(ids)
    reopened.close()


def test_reindex_from_sql_rebuilds_without_the_model(archive, settings):
    ingest(archive, STORIES)
    ids, before = stored(archive)
    archive.close()
    reopened = open_archive(settings, encoder=NoModel())
    assert reindex(reopened, from_sql=True) == len(ids)
    consistent(reopened)
    assert np.array_equal(reopened.vectors.vectors(ids), before)
    reopened.close()


def test_reindex_from_sql_on_the_command_line(archive, settings, monkeypatch):
    ingest(archive, STORIES)
    archive.close()
    (settings.index_dir / INDEX_FILE).write_bytes(b"damaged")
    monkeypatch.setenv("ARCHIVE_ENCODER", "hash")
    monkeypatch.setenv("ARCHIVE_INDEX_DIR", str(settings.index_dir))
    if settings.database_url:
        monkeypatch.setenv("ARCHIVE_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    result = runner.invoke(main, ["reindex", "--from-sql"])
    assert result.exit_code == 0, result.output
    assert "rebuilt the index from SQL" in result.output
    stats = json.loads(runner.invoke(main, ["stats", "--json"]).stdout)
    assert stats["vectors"] == stats["chunks"] >= 3 and stats["problems"] == []


def test_an_archive_older_than_stored_vectors_is_backfilled_from_its_index_without_the_model(archive, settings):
    ingest(archive, STORIES)
    ids, before = stored(archive)
    with archive.engine.begin() as conn:  # as an archive made before migration 0004 holds them
        conn.execute(text("UPDATE chunks SET vector = NULL"))
    archive.close()
    reopened = open_archive(settings, encoder=NoModel())
    with writing(reopened):  # every open for writing backfills
        pass
    again, after = stored(reopened)
    assert np.array_equal(again, ids) and np.array_equal(after, before)
    reopened.close()


def test_recovery_embeds_only_chunks_with_a_vector_nowhere(archive):
    ingest(archive, STORIES)
    ids = archive.chunk_ids()
    with archive.engine.begin() as conn:
        conn.execute(text("UPDATE chunks SET vector = NULL WHERE id = :i"), {"i": int(ids[0])})
    archive.vectors.remove(ids[:1])
    from archive.write import recover

    with writing(archive, recover_first=False):
        outcome = recover(archive)
    assert (outcome.embedded, outcome.restored, outcome.backfilled) == (1, 0, 0)
    consistent(archive)
    assert len(stored(archive)[0]) == len(ids)  # the new vector was stored in SQL too


def test_related_coverage_reads_the_vectors_the_index_lacks_from_sql(archive):
    ingest(archive, [*STORIES, article("v-4", "The harbour was closed by the storm; ferries stayed in port.")])
    with archive.engine.connect() as conn:
        own = conn.execute(
            text("SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id WHERE a.uid = 'v-1'")
        ).scalars()
        own = [int(c) for c in own]
    archive.vectors.remove(own)  # the index no longer holds the article's vectors (SQL does)
    found = [r.uid for r in _related(archive, "v-1")]
    assert found and found[0] == "v-4"


def test_chunk_vectors_come_from_the_index_where_it_holds_them_else_from_sql(archive):
    ingest(archive, STORIES)
    ids, vectors = stored(archive)
    wanted = [*ids.tolist(), 10**9]  # and a chunk that does not exist
    assert archive.vectors.held(wanted)[0].tolist() == ids.tolist()
    got_ids, got = archive.chunk_vectors(wanted)
    assert got_ids.tolist() == ids.tolist() and np.array_equal(got, vectors)
    gone = ids[::2]
    archive.vectors.remove(gone)  # no longer in the index: read from SQL, in the same id order
    assert set(archive.vectors.held(wanted)[0].tolist()) == set(ids.tolist()) - set(gone.tolist())
    got_ids, got = archive.chunk_vectors(wanted)
    assert got_ids.tolist() == ids.tolist() and np.array_equal(got, vectors)


def _related(archive, uid):
    from archive.search.related import related

    return related(archive, uid, 5)


def test_migration_0004_upgrades_an_archive_made_before_it_and_its_vectors_come_from_the_index(archive, settings):
    from alembic import command

    from archive.store.db import _alembic_config, current_revision, head_revision

    ingest(archive, STORIES)
    ids, before = stored(archive)
    with archive.engine.begin() as conn:  # back to the schema before stored vectors (the column dropped)
        command.downgrade(_alembic_config(conn), "0006")  # the revision 0004 follows (and 0007 after it goes too)
    archive.close()
    reopened = open_archive(settings, encoder=NoModel())  # opening migrates: the column is back, empty
    assert current_revision(reopened.engine) == head_revision()
    assert stored(reopened)[0].tolist() == []
    assert reopened.stats().articles == len(STORIES)  # nothing else was lost
    with writing(reopened):  # the backfill, from the index, without the model
        pass
    again, after = stored(reopened)
    assert np.array_equal(again, ids) and np.array_equal(after, before)
    reopened.close()
