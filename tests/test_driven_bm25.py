"""BM25 of a driven match set (narrow filters, `fts5_score`) equals FTS5's own bm25() without running it."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, text

from archive.documents import Article
from archive.query import parse_query
from archive.search.terms import ranking_terms
from archive.store.keyword import fts5_score
from archive.store.keyword.fts5 import BODY_WEIGHT, TABLE, to_fts5
from archive.store.keyword.fts5_phrases import phrases
from archive.write import ingest
from tests.conftest import hash_archive

pytestmark = pytest.mark.sqlite_only("FTS5's bm25() and its shadow tables; PostgreSQL ranks with its own statistics")

WORDS = "oil prices rose crude output opec export exports exporter bank rates said market wheat grain talks".split()
DAY = datetime(2024, 3, 5, 9, tzinfo=UTC)
QUERIES = [
    "oil",
    "said",
    "oil prices",
    "oil OR wheat OR grain",
    '"oil prices"',
    '"crude crude"',  # instances that overlap: left to bm25()
    '"oil prices" rose',
    "export*",
    "title:oil",
    "title:oil prices",
    "oil -wheat",
    "+oil market -grain -talks",
    "oil AND (prices OR rates)",
    "(oil AND prices) OR wheat",  # an AND under an OR: left to bm25()
]


def _articles() -> list[Article]:
    """Bodies where each word has its own share of articles (said in ~90%: its idf floored; talks in ~6%),
    repeated 1-3 times, padded to various lengths."""
    rng = random.Random(12)
    shares = [0.9 * 0.82**i for i in range(len(WORDS))]
    shares[WORDS.index("said")] = 0.9
    items = []
    for n in range(400):
        body = [
            w
            for w, share in zip(WORDS, shares, strict=True)
            if rng.random() < share
            for _ in range(rng.randrange(1, 4))
        ]
        body += ["filler"] * rng.randrange(0, 40)
        rng.shuffle(body)
        if n % 7 == 0:
            body += "crude crude crude oil prices oil prices".split()
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 6)))
        day = DAY if n % 5 == 0 else DAY - timedelta(days=1 + n % 30)  # 80 on the day, the rest spread
        items.append(
            Article(title=title, body=" ".join(body) or "filler", uid=f"a{n}", source="Wire", published_at=day)
        )
    return items


@pytest.fixture(scope="module")
def wire(tmp_path_factory, hash_encoder):
    archive = hash_archive(tmp_path_factory, "driven", hash_encoder)
    report = ingest(archive, _articles())
    assert report.added == 400, report.as_dict()
    yield archive
    archive.close()


def _bm25(conn, match: str, weight: float) -> dict[int, float]:
    """FTS5's own scores of every match."""
    rows = conn.execute(
        text(f"SELECT rowid, -bm25({TABLE}, {weight}, {BODY_WEIGHT}) FROM {TABLE} WHERE {TABLE} MATCH :m"), {"m": match}
    )
    return {int(i): float(s) for i, s in rows}


def _query(q: str):
    return ranking_terms(parse_query(f"{q} after:2024-03-05 before:2024-03-06"))


@pytest.mark.parametrize("weight", [1.0, 3.0])
@pytest.mark.parametrize("q", QUERIES)
def test_driven_scores_equal_bm25(wire, q, weight):
    query = _query(q)
    match = to_fts5(query)
    assert match is not None
    with wire.engine.connect() as conn:
        driven = wire.keyword._driven_scores(conn, query, weight)
        truth = _bm25(conn, match, weight)
        on_day = {
            int(i)
            for (i,) in conn.execute(
                text("SELECT id FROM articles WHERE published_at >= '2024-03-05' AND published_at < '2024-03-06'")
            )
        }
        page = wire.keyword.page(conn, query, sort="relevance", limit=200, offset=0, title_weight=weight)
        best = sorted((-truth[i], i) for i in set(truth) & on_day)
        assert [r[0] for r in page] == [i for _, i in best]  # the same ranking, whichever path scored it
        if q in ('"crude crude"', "(oil AND prices) OR wheat"):
            assert driven is None  # bm25() scores these (its statement kept to the day's articles by SQLite)
            return
        assert driven, q
        for article, score in driven.items():
            assert math.isclose(score, truth[article], rel_tol=1e-6, abs_tol=1e-9), (q, article, score, truth[article])
        assert set(driven) == set(truth) & on_day  # every match of the day, nothing else


def test_driven_path_runs_no_bm25(wire):
    query = _query("oil OR wheat")
    with wire.engine.connect() as conn:
        seen: list[str] = []
        event.listen(conn, "before_cursor_execute", lambda c, cur, statement, *a: seen.append(statement))
        ranked = wire.keyword.rank(conn, query, 10, 2.0)
        pages = [
            wire.keyword.page(conn, query, sort=sort, limit=10, offset=0, title_weight=2.0)
            for sort in ("relevance", "newest")
        ]
        wire.keyword.story_copies(conn, query, sort="relevance", title_weight=2.0)
        wire.keyword.grouped_scores(conn, query, 2.0)
        assert len(ranked) == 10 and all(len(p) == 10 for p in pages)
        assert seen and not [s for s in seen if "bm25(" in s]
        truth = _bm25(conn, to_fts5(query) or "", 2.0)
        day = wire.keyword._driven_scores(conn, query, 2.0) or {}
    best = [i for _, i in sorted((-truth[i], i) for i in day)]
    assert [i for i, _ in ranked] == [r[0] for r in pages[0]] == best[:10]
    assert [r[2] for r in pages[1]] == [best.index(r[0]) + 1 for r in pages[1]]  # a date page keeps relevance ranks


def test_unfiltered_keeps_bm25(wire):
    with wire.engine.connect() as conn:
        assert wire.keyword._driven_scores(conn, ranking_terms(parse_query("oil")), 1.0) is None


def test_phrases_mirror_the_expression():
    found = phrases('("oil" AND ("oil" OR "prices")) NOT ("wheat" OR title : "grain")')
    assert found is not None
    assert [(p.match, p.counted) for p in found] == [
        ('"oil"', True),
        ('"oil"', True),  # bm25() counts a phrase written twice twice
        ('"prices"', True),
        ('"wheat"', False),
        ('title : "grain"', False),
    ]
    assert phrases('(("a" AND "b") OR "c")') is None
    assert phrases('title : ("a" OR "b" OR "c"*)') is not None


def test_estimated_document_frequency(wire, monkeypatch):
    """Above the cap an article count is estimated from its newest matches' id span: close on this archive."""
    monkeypatch.setattr(fts5_score, "DF_CAP", 50)
    counter = fts5_score.DrivenBm25()
    with wire.engine.connect() as conn:
        for word in ("oil", "said", "crude"):
            exact = int(
                conn.execute(text(f"SELECT count(*) FROM {TABLE} WHERE {TABLE} MATCH :m"), {"m": word}).scalar()
            )
            estimate = counter.counts(conn, [f'"{word}"'], 400)[f'"{word}"']
            assert exact > 50 and abs(estimate - exact) <= 0.3 * exact, (word, estimate, exact)


def test_remembered_scores_follow_the_index(archive):
    """A driven query's scores are remembered while the index is unchanged: a new match shows at once."""
    day = [Article(title=f"Oil {n}", body="oil prices " * (n + 1), uid=f"d{n}", published_at=DAY) for n in range(5)]
    ingest(archive, day + [Article(title="Grain", body="wheat", uid="g", published_at=DAY)])
    query = _query("oil")
    with archive.engine.connect() as conn:
        first = archive.keyword._driven_scores(conn, query, 1.0)
        assert first is not None and len(first) == 5
    ingest(archive, [Article(title="Late oil", body="oil oil", uid="late", published_at=DAY)])
    with archive.engine.connect() as conn:
        again = archive.keyword._driven_scores(conn, query, 1.0)
        truth = _bm25(conn, '"oil"', 1.0)
    assert again is not None and len(again) == 6 and set(again) == set(truth)
    assert all(math.isclose(again[i], truth[i], rel_tol=1e-6) for i in again)
