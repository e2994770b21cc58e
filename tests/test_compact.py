"""Merging the keyword index's pieces (`archive compact`, and at the end of a big ingest): searches answer the same,
and on SQLite the FTS5 segments that each write transaction left become one."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import text

from archive.cli import main
from archive.documents import Article
from archive.search import Searcher, SearchRequest
from archive.write import ingest
from archive.write.maintain import compact

WORDS = ["grain", "harbour", "strike", "coffee", "quota", "tariff", "bank", "rates", "mine", "output"]


def articles(start: int, count: int) -> list[Article]:
    return [
        Article(
            uid=f"story-{i}",
            title=f"{WORDS[i % 10].title()} report {i}",
            body=f"The {WORDS[i % 10]} and {WORDS[(i * 3) % 10]} news of day {i}. Traders said {WORDS[(i + 5) % 10]}.",
        )
        for i in range(start, start + count)
    ]


def segments(archive) -> int | None:
    if archive.engine.dialect.name != "sqlite":
        return None
    with archive.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(DISTINCT segid) FROM article_fts_idx")).scalar_one())


def answers(archive) -> list:
    searcher = Searcher(archive)
    out = []
    for q in ("grain", "coffee quota", '"traders said"', "tariff -mine", "harbour OR strike"):
        for mode in ("keyword", "hybrid"):
            found = searcher.search(SearchRequest(q=q, mode=mode, limit=20))
            out.append((q, mode, found.total, [(h.id, round(h.score, 9)) for h in found.results]))
    return out


def test_compact_merges_the_pieces_and_every_search_answers_the_same(archive):
    for start in range(0, 60, 10):  # one ingest each: a transaction, a segment
        ingest(archive, articles(start, 10))
    before_pieces = segments(archive)
    before = answers(archive)
    assert all(total > 0 for _, _, total, _ in before)
    pieces, seconds = compact(archive)
    assert seconds >= 0
    if before_pieces is not None:  # SQLite: FTS5 segments
        assert before_pieces > 1 and pieces == before_pieces
        assert segments(archive) == 1
        assert compact(archive)[0] == 1  # one piece: nothing to merge
    else:  # PostgreSQL: the GIN pending list's pages
        assert pieces >= 0
    assert answers(archive) == before


def test_an_ingest_of_compact_after_articles_or_more_compacts_at_its_end(archive):
    archive.settings = archive.settings.with_(compact_after=25)
    ingest(archive, articles(0, 10), batch_articles=3)  # below the threshold: left in pieces
    small = segments(archive)
    report = ingest(archive, articles(10, 30), batch_articles=3)
    assert report.added == 30
    if small is not None:
        assert small > 1
        assert segments(archive) == 1
    assert report.timings.compact > 0


def test_the_cli_compacts(archive, monkeypatch):
    ingest(archive, articles(0, 10), batch_articles=2)
    ingest(archive, articles(10, 10), batch_articles=2)
    monkeypatch.setenv("ARCHIVE_INDEX_DIR", str(archive.settings.index_dir))
    monkeypatch.setenv("ARCHIVE_ENCODER", "hash")
    if archive.settings.database_url:
        monkeypatch.setenv("ARCHIVE_DATABASE_URL", archive.settings.database_url)
    result = CliRunner().invoke(main, ["compact", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["ok"] is True and out["pieces"] >= 0
    if segments(archive) is not None:
        assert out["pieces"] > 1 and segments(archive) == 1
