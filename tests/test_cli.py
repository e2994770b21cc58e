"""The CLI end to end (real model, real SQLite): ingest summary, bad input, search/stats JSON, clean errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.cli import main
from tests.conftest import CORPUS, SEED_UID, SEEDS

pytestmark = pytest.mark.integration


@pytest.fixture
def run(tmp_path: Path, encoder, monkeypatch, database_url):
    """Invoke the CLI against a fresh index directory (and database); returns the click Result."""
    monkeypatch.setenv("ARCHIVE_INDEX_DIR", str(tmp_path / "index"))
    if database_url:
        monkeypatch.setenv("ARCHIVE_DATABASE_URL", database_url)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def make_bad_inputs(folder: Path) -> None:
    folder.mkdir()
    (folder / "corrupt.json").write_text('{"title": "cut off", "text": "half a rec')
    (folder / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 20)
    (folder / "empty.txt").write_text("")
    (folder / "lines.jsonl").write_text(
        json.dumps({"id": "good-1", "title": "Good line", "text": "Dock workers ended their strike."})
        + "\n"
        + "{not json at all\n"
        + "[1, 2, 3]\n"
        + json.dumps({"id": "good-2", "title": "Another good line", "text": "Fishing quotas were cut."})
        + "\n"
    )
    (folder / "notext.csv").write_text("id,title,summary\nx-1,No body column,just a summary\n")
    (folder / "fine.md").write_text("---\ntitle: Fine story\n---\nThe orchestra announced a new season.\n")


def test_bad_input_is_reported_and_the_rest_ingested(run, tmp_path: Path):
    make_bad_inputs(tmp_path / "inbox")
    result = run("ingest", str(tmp_path / "inbox"), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["added"] == 3  # good-1, good-2, fine.md
    reasons = {f["origin"].split("/")[-1]: f["reason"] for f in summary["failures"]}
    assert set(reasons) == {"corrupt.json", "binary.txt", "empty.txt", "lines.jsonl:2", "lines.jsonl:3", "notext.csv"}
    assert "binary" in reasons["binary.txt"].lower()
    assert "empty" in reasons["empty.txt"].lower()
    assert "json" in reasons["lines.jsonl:2"].lower()
    assert "text" in reasons["notext.csv"].lower()


def test_a_date_not_understood_is_reported_and_the_article_kept(run, tmp_path: Path):
    path = tmp_path / "dated.jsonl"
    records = [
        {"id": "d-1", "title": "Swapped date", "text": "Port cranes stood idle.", "published_at": "2026-13-01"},
        {"id": "d-2", "title": "Good date", "text": "Grain barges sailed again.", "published_at": "2026-03-01"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = run("ingest", str(path))
    assert result.exit_code == 0, result.output
    assert "added 2," in result.stdout
    assert "1 stored without a date" in result.stdout and "'2026-13-01'" in result.stdout
    again = json.loads(run("ingest", str(path), "--json").stdout)  # duplicates now; the input is still reported
    assert again["undated"] == [{"origin": f"{path}:1", "published_at": "2026-13-01"}]


def test_ingest_prints_a_summary_and_is_idempotent(run):
    first = run("ingest", str(SEEDS), str(CORPUS))
    assert first.exit_code == 0
    assert "added 13, duplicates 0, updated 0, failed 0" in first.stdout
    second = run("ingest", str(SEEDS), str(CORPUS))
    assert "added 0, duplicates 13, updated 0, failed 0" in second.stdout


def test_search_json_matches_the_api_shape_and_stats(run):
    run("ingest", str(SEEDS), str(CORPUS))
    for mode in ("keyword", "semantic", "hybrid"):
        result = run("search", "Iran camera disconnection", "--mode", mode, "--json")
        body = json.loads(result.stdout)
        assert body["ok"] is True and body["mode"] == mode
        top = body["results"][0]
        assert top["uid"] == SEED_UID
        assert {"id", "uid", "title", "source", "published_at", "score", "passage"} <= set(top)
    stats = json.loads(run("stats", "--json").stdout)
    assert stats["articles"] == 13 and stats["chunks"] == stats["vectors"] > 13
    assert stats["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    text_out = run("search", "oil output cut", "--limit", "3").stdout
    assert "OPEC" in text_out


def test_delete_and_errors_are_one_clear_line(run):
    run("ingest", str(SEEDS))
    assert run("delete", SEED_UID).stdout.strip() == f"deleted {SEED_UID}"
    missing = run("delete", "no-such-uid")
    assert missing.exit_code == 1
    assert missing.stderr.strip() == "Error: no article with id or uid 'no-such-uid'"
    bad_query = run("search", "after:yesterday")
    assert bad_query.exit_code == 1 and "Traceback" not in bad_query.output
    assert "after" in bad_query.stderr


def test_reindex_rebuilds_every_vector(run):
    run("ingest", str(SEEDS))
    result = run("reindex")
    assert result.exit_code == 0 and result.stdout.startswith("re-embedded ")
    stats = json.loads(run("stats", "--json").stdout)
    assert stats["chunks"] == stats["vectors"]


def test_every_setting_is_listed_by_the_cli(run):
    from archive.config import Settings

    out = run("settings").stdout
    assert all(item["env"] in out for item in Settings.describe())
