"""PostgreSQL-specific storage: the writers' advisory lock, migrating an empty database, copying an archive over.

Needs the server `make test` starts (ARCHIVE_TEST_DATABASE_URL); skipped on the SQLite pass.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from archive.archive import open_archive
from archive.config import Settings
from archive.errors import ArchiveError
from archive.readers import read_paths
from archive.search import Searcher, SearchRequest
from archive.write import delete_article, ingest
from tests.conftest import CORPUS, PROJECT_ROOT, SEED_UID, SEEDS

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only("PostgreSQL's advisory lock, schema and sequences")]


def machine(tmp_path: Path, name: str, url: str | None, hash_encoder):
    """An archive handle with its own data directory on the shared database: another machine's writer."""
    return open_archive(
        Settings(index_dir=tmp_path / name, encoder="hash", rate_limit="off", database_url=url),
        encoder=hash_encoder,
        create=True,
    )


def test_the_advisory_lock_serialises_writers_on_different_machines(tmp_path, database_url, hash_encoder):
    first, second = (
        machine(tmp_path, "a", database_url, hash_encoder),
        machine(tmp_path, "b", database_url, hash_encoder),
    )
    spans: dict[str, tuple[float, float]] = {}
    held = threading.Event()

    def hold(archive, name: str, seconds: float) -> None:
        with archive.locked(timeout=30):
            held.set()
            started = time.monotonic()
            time.sleep(seconds)
            spans[name] = (started, time.monotonic())

    worker = threading.Thread(target=hold, args=(first, "first", 1.0))
    worker.start()
    held.wait(10)
    # Different folders: only the database's lock is shared.
    with pytest.raises(ArchiveError) as refused, second.locked(timeout=0.2):
        pass
    assert refused.value.status == 503 and "database" in refused.value.message
    hold(second, "second", 0.0)  # waits for the first writer, then gets the lock
    worker.join()
    assert spans["second"][0] >= spans["first"][1]
    # Nested in one thread it is taken once (a writer's recovery inside its own lock).
    with first.locked(timeout=1), first.locked(timeout=1):
        pass
    first.close()
    second.close()


def test_two_concurrent_ingests_on_different_machines_both_complete(tmp_path, database_url, hash_encoder):
    first, second = (
        machine(tmp_path, "a", database_url, hash_encoder),
        machine(tmp_path, "b", database_url, hash_encoder),
    )
    reports = {}
    threads = [
        threading.Thread(target=lambda a=a, n=n, p=p: reports.__setitem__(n, ingest(a, read_paths([p]))))
        for a, n, p in ((first, "seeds", SEEDS), (second, "corpus", CORPUS))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert reports["seeds"].added == 1 and reports["corpus"].added == 12
    with first.engine.connect() as conn:
        assert conn.execute(text("SELECT docs FROM keyword_totals")).scalar_one() == 13
    first.close()
    second.close()


HOLDER = """
import sys, time
from pathlib import Path
from archive.archive import open_archive
from archive.config import Settings
archive = open_archive(Settings(index_dir=Path(sys.argv[1]), encoder="hash", database_url=sys.argv[2]), create=True)
with archive.locked(timeout=10):
    print("held", flush=True)
    time.sleep(120)
"""


def test_the_lock_of_a_killed_writer_is_released(tmp_path, database_url, hash_encoder):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "other"), database_url],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        archive = machine(tmp_path, "mine", database_url, hash_encoder)
        with pytest.raises(ArchiveError), archive.locked(timeout=0.3):
            pass
        holder.kill()  # kill -9: no unlock, no goodbye; the server ends its session and drops the lock
        holder.wait()
        with archive.locked(timeout=10):
            pass
        archive.close()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_an_empty_database_is_migrated_on_open(tmp_path, databases, hash_encoder):
    url = databases.new(migrated=False)
    try:
        archive = machine(tmp_path, "a", url, hash_encoder)
        ingest(archive, read_paths([SEEDS]))
        with archive.engine.connect() as conn:
            tables = set(
                conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).scalars()
            )
            assert {"articles", "chunks", "keyword_terms", "keyword_totals", "alembic_version"} <= tables
        assert Searcher(archive).search(SearchRequest(q="camera", mode="keyword")).results
        archive.close()
    finally:
        databases.drop(url)


def test_processes_opening_a_new_database_at_once_migrate_it_once(tmp_path, databases, hash_encoder):
    url = databases.new(migrated=False)
    opened, errors = [], []

    def open_one(n: int) -> None:
        try:
            opened.append(machine(tmp_path, f"w{n}", url, hash_encoder))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == [] and len(opened) == 3
        with opened[0].engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        for archive in opened:
            archive.close()
        databases.drop(url)


def test_copy_store_moves_a_sqlite_archive_to_postgresql(tmp_path, database_url, hash_encoder):
    from bench.copy_store import main as copy_store

    source = open_archive(
        Settings(index_dir=tmp_path / "src", encoder="hash", rate_limit="off"), encoder=hash_encoder, create=True
    )
    ingest(source, read_paths([SEEDS, CORPUS]))
    ingest(source, read_paths([SEEDS]))  # nothing new
    delete_article(source, SEED_UID)  # its id must never come back
    with source.engine.connect() as conn:
        last_article = conn.execute(text("SELECT seq FROM sqlite_sequence WHERE name = 'articles'")).scalar_one()
    assert copy_store([str(tmp_path / "src"), database_url, str(tmp_path / "dst")]) == 0
    copy = machine(tmp_path, "dst", database_url, hash_encoder)
    for q, mode in (("Iran camera disconnection", "semantic"), ("oil prices", "keyword"), ("harvest", "hybrid")):
        ours = Searcher(copy).search(SearchRequest(q=q, mode=mode, limit=20)).results
        theirs = Searcher(source).search(SearchRequest(q=q, mode=mode, limit=20)).results
        assert [r.uid for r in ours] == [r.uid for r in theirs], (q, mode)
        if mode == "semantic":
            assert [r.score for r in ours] == pytest.approx([r.score for r in theirs])
    report = ingest(copy, read_paths([SEEDS]))  # the deleted article, stored again: a new id
    assert report.added == 1
    with copy.engine.connect() as conn:
        assert conn.execute(text("SELECT max(id) FROM articles")).scalar_one() > last_article
    source.close()
    copy.close()
