"""Opening an archive: only the write entry points create one; a read-only folder is served read-only."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.archive import open_archive
from archive.cli import main
from archive.config import Settings
from archive.documents import Article
from archive.errors import ArchiveError
from tests.conftest import PROJECT_ROOT, one_line_error

pytestmark = pytest.mark.sqlite_only(
    "a SQLite file or folder that is missing or read-only (a PostgreSQL database's access is the server's)"
)


@pytest.fixture
def cli(monkeypatch):
    """Invoke the CLI in-process with the hash encoder; returns the click Result."""
    monkeypatch.setenv("ARCHIVE_ENCODER", "hash")
    runner = CliRunner()
    return lambda *args: runner.invoke(main, [str(a) for a in args])


# ------------------------------------------------------------------------------ issue 15 item 8: no archive here


@pytest.mark.parametrize("exists", [False, True], ids=["missing-folder", "folder-without-archive"])
def test_reading_commands_refuse_a_folder_without_an_archive(cli, tmp_path: Path, exists: bool):
    typo = tmp_path / "indx"
    if exists:
        typo.mkdir()
    for command in (["search", "anything"], ["stats"], ["related", "x"], ["delete", "x"], ["reindex"], ["migrate"]):
        line = one_line_error(cli("--index-dir", typo, *command))
        assert line == f"Error: no archive at {typo}: create one with `archive ingest` or `archive seed`", command
    assert typo.exists() == exists and (not exists or not any(typo.iterdir()))  # nothing was created


def test_ingest_and_seed_create_an_archive(cli, tmp_path: Path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"id": "n-1", "text": "The bakery opened a second shop."}) + "\n")
    assert cli("--index-dir", tmp_path / "a", "ingest", feed).exit_code == 0
    assert cli("--index-dir", tmp_path / "b", "seed", feed).exit_code == 0
    for name in ("a", "b"):
        stats = json.loads(cli("--index-dir", tmp_path / name, "stats", "--json").stdout)
        assert stats["articles"] == 1


def test_open_archive_creates_only_when_asked(tmp_path: Path, hash_encoder):
    settings = Settings(index_dir=tmp_path / "new", encoder="hash")
    with pytest.raises(ArchiveError, match="no archive at"):
        open_archive(settings, encoder=hash_encoder)
    assert not settings.index_dir.exists()
    open_archive(settings, encoder=hash_encoder, create=True).close()
    open_archive(settings, encoder=hash_encoder).close()  # now there is one


def test_serve_refuses_a_folder_without_an_archive(tmp_path: Path):
    from archive.web import create_app

    with pytest.raises(ArchiveError, match=r"no archive at .*archive seed"):
        create_app(Settings(index_dir=tmp_path / "nothing", encoder="hash", rate_limit="off"))


# ------------------------------------------------------------------------------ issue 15 item 4c: a read-only archive

NO_DAC_OVERRIDE = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]


def reader(*args: str, code: str | None = None) -> subprocess.CompletedProcess:
    """Run `archive ARGS` (or python `code`) in a process that cannot write the archive (exit code, stdout, stderr).

    File modes bind root only without its DAC capabilities: as root, the child drops them (setpriv).
    """
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "archive.cli", *args]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: file modes cannot make the archive read-only")
        command = NO_DAC_OVERRIDE + command
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "ARCHIVE_RATE_LIMIT": "off"}
    env.pop("ARCHIVE_ENCODER", None)  # 'auto': the manifest names the hash encoder
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def read_only_archive(tmp_path: Path, hash_encoder):
    """An archive of three stories (hash encoder) whose folder and files are read-only; yields the folder."""
    from archive.write import ingest

    folder = tmp_path / "index"
    archive = open_archive(Settings(index_dir=folder, encoder="hash"), encoder=hash_encoder, create=True)
    ingest(
        archive,
        [
            Article(title="Harbour", body="The harbour reopened after the storm.", uid="ro-1"),
            Article(title="Bakery", body="A bakery opened a second shop downtown.", uid="ro-2"),
            Article(title="Rail", body="Train drivers ended their strike on Monday.", uid="ro-3"),
        ],
    )
    archive.close()  # the last connection checkpoints the WAL: no -wal or -shm file is left
    everything = [folder, *folder.rglob("*")]
    for path in reversed(everything):
        path.chmod(0o555 if path.is_dir() else 0o444)
    yield folder
    for path in everything:
        path.chmod(0o755 if path.is_dir() else 0o644)


def test_a_read_only_archive_can_be_searched_and_served_and_refuses_writes(read_only_archive: Path):
    before = sorted(p.name for p in read_only_archive.iterdir())
    stats = reader("--index-dir", str(read_only_archive), "stats", "--json")
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["articles"] == 3 and json.loads(stats.stdout)["vectors"] >= 3
    for mode in ("keyword", "semantic", "hybrid"):
        found = reader("--index-dir", str(read_only_archive), "search", "harbour storm", "--mode", mode, "--json")
        assert found.returncode == 0, found.stderr
        assert json.loads(found.stdout)["results"][0]["uid"] == "ro-1"
    served = reader(
        code="from pathlib import Path\n"
        "from archive.config import Settings\n"
        "from archive.web import create_app\n"
        f"app = create_app(Settings(index_dir=Path({str(read_only_archive)!r}), rate_limit='off', api_key='k'))\n"
        "c = app.test_client()\n"
        "print(c.get('/api/search?q=bakery&mode=semantic').get_json()['results'][0]['uid'])\n"
        "r = c.post('/api/articles', json={'id': 'w', 'text': 'New words.'}, headers={'Authorization': 'Bearer k'})\n"
        "print(r.status_code, r.get_json()['error'])\n"
    )
    assert served.returncode == 0, served.stderr
    uid, refused = served.stdout.strip().splitlines()
    assert uid == "ro-2"
    assert refused.startswith("503 ") and "read-only" in refused and str(read_only_archive) in refused
    wrote = reader("--index-dir", str(read_only_archive), "delete", "ro-1")
    assert wrote.returncode == 1 and "Traceback" not in wrote.stderr
    assert wrote.stderr.strip().splitlines() == [
        f"Error: the archive at {read_only_archive} is read-only (this user cannot write its folder or database): "
        "searching works, writes are refused"
    ]
    assert sorted(p.name for p in read_only_archive.iterdir()) == before  # no lock, WAL or journal file appeared


def test_a_read_only_archive_behind_the_schema_says_so(read_only_archive: Path):
    db = read_only_archive / "archive.db"
    db.chmod(0o644)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0000_older'")
    db.chmod(0o444)
    result = reader("--index-dir", str(read_only_archive), "stats")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "schema" in line and "0000_older" in line and "archive migrate" in line and "read-only" in line
