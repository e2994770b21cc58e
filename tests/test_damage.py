"""Damaged, missing or half-written index files: one line naming the file and the repair, and the repair works."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from archive.archive import open_archive
from archive.cli import main
from archive.documents import Article
from archive.errors import ArchiveError
from archive.store.vectors import INDEX_FILE, MANIFEST_FILE, read_manifest
from archive.write import ingest, recover_if_idle
from tests.conftest import PROJECT_ROOT, one_line_error

pytestmark = pytest.mark.sqlite_only(
    "the archive's SQLite file and FAISS files damaged in place, through the CLI's --index-dir"
)

STORIES = [
    Article(title="Harbour", body="The harbour reopened after the storm.", uid="d-1"),
    Article(title="Bakery", body="A bakery opened a second shop downtown.", uid="d-2"),
    Article(title="Rail", body="Train drivers ended their strike on Monday.", uid="d-3"),
]


@pytest.fixture
def stocked(archive):
    """The `archive` fixture holding three stories, vectors saved."""
    ingest(archive, STORIES)
    return archive


@pytest.fixture
def cli(monkeypatch, stocked):
    """Invoke the CLI in-process on the stocked archive (hash encoder named: a damaged manifest cannot tell it)."""
    monkeypatch.setenv("ARCHIVE_ENCODER", "hash")
    monkeypatch.setenv("ARCHIVE_INDEX_DIR", str(stocked.index_dir))
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args))


def assert_repaired_by_reindex(cli) -> None:
    result = cli("reindex")
    assert result.exit_code == 0, result.output
    stats = json.loads(cli("stats", "--json").stdout)
    assert stats["vectors"] == stats["chunks"] >= 3 and stats["problems"] == []
    found = json.loads(cli("search", "harbour storm", "--mode", "semantic", "--json").stdout)
    assert found["results"][0]["uid"] == "d-1"


# ------------------------------------------------------------------------------ issue 15 item 4a: manifest.json

DAMAGED_MANIFESTS = {
    "not-json": '{"model": "sentence-transformers/all-MiniLM-L6-v2", "dim": 3',
    "wrong-shape": "[1, 2, 3]",
    "missing-fields": '{"count": 3}',
    "wrong-types": '{"model": "m", "model_sha256": null, "dim": "384", "count": -1}',
    "empty": "",
}


@pytest.mark.parametrize("content", DAMAGED_MANIFESTS.values(), ids=DAMAGED_MANIFESTS.keys())
def test_a_damaged_manifest_is_one_line_and_reindex_rebuilds_it(cli, stocked, content):
    manifest = stocked.index_dir / MANIFEST_FILE
    manifest.write_text(content)
    for command in (
        ["search", "harbour", "--mode", "semantic"],
        ["related", "d-1"],
        ["ingest", str(manifest), "--progress", "none"],
    ):
        line = one_line_error(cli(*command))
        assert str(manifest) in line and "archive reindex" in line, command
    stats = cli("stats", "--json")
    assert stats.exit_code == 0, stats.output
    (problem,) = json.loads(stats.stdout)["problems"]
    assert str(manifest) in problem and "archive reindex" in problem
    keyword = cli("search", "harbour", "--mode", "keyword", "--json")  # SQL is intact: words still work
    assert keyword.exit_code == 0 and json.loads(keyword.stdout)["results"][0]["uid"] == "d-1"
    assert_repaired_by_reindex(cli)
    assert read_manifest(stocked.index_dir).count >= 3


# ------------------------------------------------------------------------------ issue 15 item 4b: vectors.faiss


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_index_file_is_one_line_and_reindex_rebuilds_it(cli, stocked, damage):
    index = stocked.index_dir / INDEX_FILE
    data = index.read_bytes()
    index.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x00not faiss" * 50, "empty": b""}[damage])
    for command in (["search", "harbour", "--mode", "semantic"], ["search", "harbour"], ["related", "d-1"]):
        line = one_line_error(cli(*command))
        assert str(index) in line and "archive reindex" in line, command
    (problem,) = json.loads(cli("stats", "--json").stdout)["problems"]
    assert str(index) in problem and "archive reindex" in problem
    assert_repaired_by_reindex(cli)


def test_a_deleted_index_file_is_reported_not_zero_matches(cli, stocked):
    index = stocked.index_dir / INDEX_FILE
    index.resolve().unlink()  # the published version's file (the name at the top is a link through `current`)
    line = one_line_error(cli("search", "harbour storm", "--mode", "semantic"))  # was: "0 articles match", exit 0
    assert str(index) in line and "missing" in line and "archive reindex" in line
    stats = json.loads(cli("stats", "--json").stdout)
    assert stats["vectors"] == 0 and "missing" in stats["problems"][0]
    assert_repaired_by_reindex(cli)


def test_serving_a_damaged_index_fails_at_start_and_a_running_server_answers_503(stocked, settings):
    from archive.web import create_app

    running = create_app(archive=open_archive(settings, encoder=stocked.encoder)).test_client()
    (stocked.index_dir / INDEX_FILE).write_bytes(b"\x00" * 64)
    with pytest.raises(ArchiveError, match=f"{INDEX_FILE}.*archive reindex"):
        create_app(settings)
    r = running.get("/api/search?q=harbour&mode=semantic")
    assert r.status_code == 503 and r.mimetype == "application/json"
    assert INDEX_FILE in r.get_json()["error"] and "archive reindex" in r.get_json()["error"]
    assert running.get("/api/search?q=harbour&mode=keyword").status_code == 200


# ------------------------------------------------------------------------------ issue 15 item 7: crash while publishing

CRASH_ON_MANIFEST_RENAME = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from archive.archive import open_archive
    from archive.config import Settings
    from archive.documents import Article
    from archive.write import ingest

    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if str(dst).endswith("manifest.json"):
            os._exit(9)  # killed after the new version's index was written, before its manifest
        return real_replace(src, dst, *args, **kwargs)

    archive = open_archive(Settings(index_dir=Path(sys.argv[1]), encoder="hash"))
    os.replace = replace
    ingest(archive, [Article(title=f"Extra {i}", body=f"Extra story {i} about tides.", uid=f"x-{i}") for i in range(5)])
    """
)


def test_a_crash_while_publishing_leaves_the_previous_version_whole_and_is_repaired(stocked, settings, hash_encoder):
    before = read_manifest(stocked.index_dir).count
    published = stocked.index_dir.joinpath("current").resolve()
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH_ON_MANIFEST_RENAME, str(stocked.index_dir)],
        env={"PYTHONPATH": str(PROJECT_ROOT), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == 9, crashed.stderr
    assert stocked.index_dir.joinpath("current").resolve() == published  # never flipped to a half-written version
    staged = list((stocked.index_dir / "versions").glob(".*.tmp"))
    assert staged  # the dead writer's unfinished version

    reader = open_archive(settings, encoder=hash_encoder)
    stats = reader.stats()
    assert (stats.vectors, stats.chunks, stats.pending_vectors) == (before, before + 5, 5)  # index and manifest agree
    assert reader.vectors.count == before and stats.problems == []
    assert recover_if_idle(reader)  # the next open for writing publishes the rest (from SQL) and removes the debris
    assert read_manifest(stocked.index_dir).count == before + 5
    assert list((stocked.index_dir / "versions").glob(".*.tmp")) == []
    assert sorted(p.name for p in (stocked.index_dir / "versions").iterdir()) == sorted(
        {published.name, stocked.index_dir.joinpath("current").resolve().name}
    )  # the current version and the one before it


def test_only_temp_files_of_dead_writers_are_removed(stocked):
    import os

    from archive.store.manifest import remove_stale_temp_files

    mine = stocked.index_dir / f".{INDEX_FILE}.{os.getpid()}.abc.tmp"  # a live writer (this process)
    dead = stocked.index_dir / f".{INDEX_FILE}.999999999.abc.tmp"
    old_style = stocked.index_dir / f".{MANIFEST_FILE}.k2j3h4.tmp"
    for path in (mine, dead, old_style):
        path.write_bytes(b"partial")
    os.utime(old_style, (1_000_000_000, 1_000_000_000))  # written long before this process started
    assert sorted(p.name for p in remove_stale_temp_files(stocked.index_dir)) == sorted([dead.name, old_style.name])
    assert mine.exists() and not dead.exists() and not old_style.exists()


# ------------------------------------------------------------------------------ issue 15 item 4d: disk full


def fill_up_after_this(engine) -> None:
    """Every new connection of `engine` may grow the database by two pages at most (SQLite then says it is full)."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _tiny(dbapi_connection, _record) -> None:
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 2}")

    engine.dispose()  # the pool's connections predate the limit


def big_stories(n: int = 200) -> list[Article]:
    return [Article(title=f"Long {i}", body=f"Story {i} about the tides. " * 120, uid=f"big-{i}") for i in range(n)]


def test_a_full_disk_during_ingest_is_one_error_and_loses_nothing_committed(stocked, settings, hash_encoder):
    fill_up_after_this(stocked.engine)
    with pytest.raises(ArchiveError) as caught:
        ingest(stocked, big_stories(), batch_articles=1)
    message = caught.value.message
    assert "\n" not in message and "full" in message and str(stocked.index_dir) in message
    assert caught.value.status == 503
    reopened = open_archive(settings, encoder=hash_encoder)  # no size limit: the next write recovers
    assert recover_if_idle(reopened)
    from tests.test_core import consistent

    articles, _ = consistent(reopened)
    assert articles >= len(STORIES)  # what was committed before the disk filled is all there
    from archive.reading import load_article

    assert all(load_article(reopened, a.uid).body == a.body for a in STORIES)


def test_a_full_disk_is_one_line_from_the_cli_and_503_from_the_api(cli, stocked, tmp_path, monkeypatch):
    import archive.archive as archive_module

    real_make_engine = archive_module.make_engine

    def limited(url, **kwargs):
        engine = real_make_engine(url, **kwargs)
        fill_up_after_this(engine)
        return engine

    monkeypatch.setattr(archive_module, "make_engine", limited)
    feed = tmp_path / "big.jsonl"
    feed.write_text("".join(json.dumps({"id": a.uid, "title": a.title, "text": a.body}) + "\n" for a in big_stories()))
    line = one_line_error(cli("ingest", str(feed), "--progress", "none"))
    assert "full" in line and str(stocked.index_dir) in line

    from archive.web import create_app

    fill_up_after_this(stocked.engine)
    client = create_app(settings=stocked.settings.with_(api_key="k"), archive=stocked).test_client()
    records = [{"id": a.uid, "title": a.title, "text": a.body} for a in big_stories(100)]
    r = client.post("/api/articles", json=records, headers={"Authorization": "Bearer k"})
    assert r.status_code == 503 and r.mimetype == "application/json"
    assert "full" in r.get_json()["error"]


def test_a_full_disk_while_saving_the_index_is_one_error_and_keeps_the_old_file(stocked, monkeypatch):
    import errno
    import os

    from archive.store import manifest

    index = stocked.index_dir / INDEX_FILE
    before = index.read_bytes()

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(manifest.os, "fsync", no_space)
    with pytest.raises(ArchiveError, match="full") as caught:
        stocked.save_vectors()
    assert caught.value.status == 503 and str(index) in caught.value.message
    monkeypatch.setattr(manifest.os, "fsync", os.fsync)
    assert index.read_bytes() == before and list(stocked.index_dir.glob(".*.tmp")) == []
