"""Big archives: the bulk-loading path, keyword queries that do not grow with the match set, and bench.scale."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from archive.documents import Article, Chunk, PreparedArticle
from archive.search import Searcher, SearchRequest
from archive.store import bulk
from archive.write.maintain import writing
from archive.write.prepare import content_hash

pytestmark = pytest.mark.integration

WORDS = ("grain", "copper", "tin", "zinc", "rubber", "cocoa")


def prepared(n: int, start: int = 0) -> list[PreparedArticle]:
    """n distinct one-chunk articles: all say 'grain', a few also a rarer word, one a day from 2020 on."""
    out = []
    for i in range(start, start + n):
        body = f"Grain shipments number {i} rose. " + (f"{WORDS[1 + i % 5]} prices moved {i}." if i % 7 == 0 else "")
        a = Article(
            title=f"Story {i}",
            body=body,
            uid=f"bulk-{i}",
            source="Wire" if i % 2 else "Courier",
            published_at=datetime(2020, 1, 1, 12, tzinfo=UTC) + timedelta(days=i),
            extra={"topics": ["grain"]},
        )
        out.append(PreparedArticle(a, a.uid or "", content_hash(a), [Chunk(0, body, 0, len(body))], a.title))
    return out


def load(archive, items: list[PreparedArticle]) -> np.ndarray:
    vectors = archive.encoder.encode([p.chunks[0].text for p in items])
    with writing(archive) as w:  # as bench.scale loads: SQL in one transaction, then the index, one lock
        with w.engine.begin() as conn:
            _, chunk_ids = bulk.add_new(conn, items, vectors)
        w.vectors.add(chunk_ids, vectors)
        w.save_vectors()
    return chunk_ids


def test_bulk_add_new_stores_articles_chunks_vectors_and_labels_and_refuses_a_known_uid(archive):
    first = load(archive, prepared(5))
    second = load(archive, prepared(3, start=5))
    assert second[0] == first[-1] + 1  # ids continue past the high-water mark
    stats = archive.stats()
    assert (stats.articles, stats.chunks, stats.vectors) == (8, 8, 8)
    found = Searcher(archive).search(SearchRequest(q="grain", mode="keyword", limit=50, collapse=False))
    assert found.total == 8 and found.facets["topic"] == [{"value": "grain", "count": 8}]
    with archive.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT count(*) FROM chunks WHERE vector IS NOT NULL").scalar()
    assert rows == 8
    with pytest.raises(Exception), writing(archive) as w, w.engine.begin() as conn:  # noqa: B017 - the driver's
        bulk.add_new(conn, prepared(2, start=7), np.zeros((2, archive.encoder.dim), dtype=np.float32))
    assert archive.stats().articles == 8  # the failed call left nothing behind


@pytest.mark.sqlite_only("the FTS5 index's windows and first pass; PostgreSQL counts and ranks every match")
def test_a_huge_match_set_is_ranked_and_counted_within_its_newest_matches(archive, monkeypatch):
    from archive.store.keyword import fts5

    load(archive, prepared(60))
    searcher = Searcher(archive)
    exact = searcher.search(SearchRequest(q="grain", mode="keyword", limit=10, collapse=False))
    assert (exact.total, exact.total_relation) == (60, "eq")
    monkeypatch.setattr(fts5, "KEYWORD_WINDOW", 20)
    monkeypatch.setattr(fts5, "RANK_WINDOW", 15)
    archive.keyword._floors.clear()
    cut = searcher.search(SearchRequest(q="grain", mode="keyword", limit=10, collapse=False))
    assert (cut.total, cut.total_relation) == (20, "gte")
    newest = {r.id for r in searcher.search(SearchRequest(q="grain", mode="keyword", limit=60)).results}
    assert {r.id for r in cut.results} <= set(sorted(newest)[-15:])  # ranked among the newest 15
    deep = searcher.search(SearchRequest(q="grain", mode="keyword", limit=10, offset=40, collapse=False))
    assert len(deep.results) == 10  # a page beyond the window ranks every match
    hybrid = searcher.search(SearchRequest(q="grain", mode="hybrid", limit=10, collapse=False))
    assert hybrid.results
    # a narrow filter drives the query and counts exactly
    day = SearchRequest(
        q="grain", mode="keyword", after=datetime(2020, 1, 3).date(), before=datetime(2020, 1, 5).date()
    )
    narrow = searcher.search(day)
    assert (narrow.total, narrow.total_relation) == (2, "eq")
    assert len(narrow.results) == 2


@pytest.mark.sqlite_only("the FTS5 index's windows and first pass; PostgreSQL counts and ranks every match")
def test_long_queries_score_only_the_rarest_words_matches_and_keep_the_best(archive, monkeypatch):
    from archive.query import parse_query
    from archive.search.terms import ranking_terms
    from archive.store.keyword import fts5

    load(archive, prepared(70))
    query = ranking_terms(parse_query("grain shipments number copper tin"))
    with archive.engine.connect() as conn:
        full = archive.keyword.rank(conn, query, 3, 3.0)
        monkeypatch.setattr(fts5, "NARROW_BOUND", 30)
        monkeypatch.setattr(fts5, "NARROW_ARCHIVE", 0)
        narrow = archive.keyword.narrowing(conn, query, 3)
        assert narrow is not None and "copper" in narrow and "grain" not in narrow
        bounded = archive.keyword.rank(conn, query, 3, 3.0)
    assert bounded == full  # the best matches hold the rare words


@pytest.mark.sqlite_only("the FTS5 index's windows; PostgreSQL ranks every match")
def test_the_hybrid_keyword_candidates_of_a_big_archive_come_from_the_newest_candidate_window(archive, monkeypatch):
    from archive.query import parse_query
    from archive.search.terms import ranking_terms
    from archive.store.keyword import fts5

    load(archive, prepared(60))
    query = ranking_terms(parse_query("grain"))
    monkeypatch.setattr(fts5, "CANDIDATE_WINDOW", 12)
    with archive.engine.connect() as conn:
        ids = sorted(int(i) for i in conn.exec_driver_sql("SELECT id FROM articles").scalars())
        small = archive.keyword.rank(conn, query, 10, 3.0)  # an archive at most NARROW_ARCHIVE: every match
        monkeypatch.setattr(fts5, "NARROW_ARCHIVE", 10)
        archive.keyword._floors.clear()
        big = archive.keyword.rank(conn, query, 10, 3.0)
        newest = archive.keyword.rank(conn, ranking_terms(parse_query("grain")), 60, 3.0)  # fewer than asked: all
    assert len(newest) == 60
    assert [a for a, _ in small] == [a for a, _ in newest[:10]]  # not cut ...
    assert {a for a, _ in small} - set(ids[-12:])  # ... (older matches among the best)
    assert len(big) == 10 and {a for a, _ in big} <= set(ids[-12:])  # the best 10 of the newest 12 ...
    scores = dict(newest)
    best = sorted(ids[-12:], key=lambda a: (-scores[a], a))[:10]
    assert [a for a, _ in big] == best  # ... by BM25


def test_words_in_agrees_with_one_lookup_per_word_for_dense_and_spread_ids(archive):
    from archive.query import Term

    load(archive, prepared(70))
    words = {w: Term(w) for w in WORDS}
    with archive.engine.connect() as conn:
        ids = [int(i) for i in conn.exec_driver_sql("SELECT id FROM articles ORDER BY id").scalars()]
        for chosen in (ids, ids[::9], ids[:3]):
            together = archive.keyword.words_in(conn, words, chosen)
            one_by_one: dict[int, set[str]] = {}
            for label, node in words.items():
                for aid in archive.keyword.containing(conn, node, chosen):
                    one_by_one.setdefault(aid, set()).add(label)
            assert together == one_by_one
            assert set(together) <= set(chosen)


def test_bench_scale_smoke(tmp_path, monkeypatch, capsys):
    from bench import scale
    from bench.common import REUTERS

    if not REUTERS.exists():
        pytest.skip("../shared/data absent")
    monkeypatch.setenv("ARCHIVE_ENCODER", "hash")  # the served archives too: no model in this test
    monkeypatch.setattr(scale, "QUERIES", scale.QUERIES[:4] + scale.QUERIES[37:38])
    assert scale.main(["--sizes", "300", "--out", str(tmp_path), "--pool", "40", "--stories", "300"]) == 0
    table = capsys.readouterr().out
    assert "hybrid p50 / p95 ms over HTTP [300 articles]" in table
    built = json.loads((tmp_path / "archive-300" / scale.BUILT).read_text())
    assert built["articles"] == 300 and built["chunks"] >= 300
