"""Search on the seeded archive (seed + 12 fixture articles, real model): modes, query language, filters, paging, facets, passages."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import create_engine, text

from archive.errors import BadQuery
from archive.limits import MAX_LIMIT
from archive.search import Searcher, SearchRequest
from archive.store.db import migrate
from tests.conftest import SEED_UID

pytestmark = pytest.mark.integration

MODES = ("keyword", "semantic", "hybrid")


@pytest.fixture(scope="module")
def searcher(seeded_archive) -> Searcher:
    """Relevance floor off: these tests need every one of the 13 seeded stories ranked (see test_relevance_floor)."""
    return Searcher(seeded_archive, seeded_archive.settings.with_(relevance_floor=-1))


def run(searcher: Searcher, q: str, **kw):
    return searcher.search(SearchRequest(q=q, **kw))


def bodies(searcher: Searcher, uids: list[str]) -> dict[str, str]:
    with searcher.archive.engine.connect() as conn:
        rows = conn.execute(text("SELECT uid, title || ' ' || body FROM articles")).all()
    return {u: t.lower() for u, t in rows if u in uids}


@pytest.mark.parametrize("mode", MODES)
def test_seed_first_for_iran_camera_disconnection(searcher, mode):
    response = run(searcher, "Iran camera disconnection", mode=mode)
    assert response.results[0].uid == SEED_UID
    top = response.results[0]
    assert top.explain["fused_score"] == top.score
    if mode != "semantic":
        assert top.explain["keyword_rank"] == 1
        assert "<mark>" in top.passage_html  # the passage shows the matched words
    if mode != "keyword":
        assert top.explain["semantic_rank"] == 1


def test_explain_block_and_result_shape(searcher):
    response = run(searcher, "Iran camera disconnection")
    for r in response.results:
        assert set(r.explain) == {
            "keyword_rank",
            "semantic_rank",
            "keyword_score",
            "semantic_score",
            "fused_score",
            "cosine",
        }
        assert r.explain["keyword_rank"] is not None or r.explain["semantic_rank"] is not None
        assert r.passage and r.passage_end > r.passage_start
    scores = [r.score for r in response.results]
    assert scores == sorted(scores, reverse=True)
    d = response.as_dict()
    assert d["results"][0]["uid"] == SEED_UID and d["total"] == response.total


def test_one_result_per_article(searcher):
    for mode in MODES:
        uids = [r.uid for r in run(searcher, "Iran nuclear IAEA monitoring cameras", mode=mode, limit=50).results]
        assert len(uids) == len(set(uids))


def test_keyword_stemming_and_or_semantics(searcher):
    uids = [r.uid for r in run(searcher, "disconnecting", mode="keyword").results]
    assert uids == [SEED_UID]  # porter: "disconnecting" finds "disconnect"
    # Bare words are OR-ed: a long question still finds its answer.
    uids = [
        r.uid for r in run(searcher, "what did the oil producers cartel decide about output", mode="keyword").results
    ]
    assert uids[0] == "wire-001"


def test_exclusion_removes_whole_articles_in_every_mode(searcher):
    for mode in MODES:
        uids = [r.uid for r in run(searcher, "Iran nuclear -cameras", mode=mode, limit=50).results]
        assert SEED_UID not in uids, mode  # the seed mentions cameras (in one chunk only)
        assert "wire-003" in uids, mode
    texts = bodies(searcher, [r.uid for r in run(searcher, 'Iran -"surveillance equipment"', mode="hybrid").results])
    assert all("surveillance equipment" not in t for t in texts.values())


def test_phrase_is_required_in_every_mode(searcher):
    for mode in MODES:
        results = run(searcher, '"surveillance equipment" Iran', mode=mode, limit=50).results
        assert [r.uid for r in results] == ["wire-003"], mode


def test_filters_in_query_and_as_parameters(searcher):
    for mode in MODES:
        typed = run(searcher, 'Iran source:"Global Wire" after:2022-06-01 before:2022-07-01', mode=mode)
        explicit = run(
            searcher, "Iran", mode=mode, source="global wire", after=date(2022, 6, 1), before=date(2022, 7, 1)
        )
        assert [r.uid for r in typed.results] == [r.uid for r in explicit.results] == ["wire-003"], mode
        labels = dict.fromkeys(searcher.settings.labels)  # the label filters, none set
        assert typed.filters == {
            "source": "Global Wire",
            "author": None,
            "after": "2022-06-01",
            "before": "2022-07-01",
            **labels,
        }
    author = run(searcher, "prices author:ruiz", mode="hybrid", limit=50)
    assert author.results and all(r.author == "Ana Ruiz" for r in author.results)
    with pytest.raises(BadQuery):
        run(searcher, "Iran", after=date(2023, 1, 1), before=date(2022, 1, 1))


def test_filters_alone_list_the_filtered_articles_newest_first(searcher):
    response = run(searcher, 'source:"Tech Times"')
    assert [r.uid for r in response.results] == ["tech-002", "tech-001", "tech-003"]
    assert response.total == 3
    assert run(searcher, "").total == 0


def test_sort_newest_and_oldest(searcher):
    for sort, reverse in (("newest", True), ("oldest", False)):
        results = run(searcher, "prices rates power sales", sort=sort, limit=50).results
        dates = [r.published_at for r in results]
        assert len(dates) > 3 and dates == sorted(dates, reverse=reverse)


def test_keyword_mode_counts_sorts_and_pages_every_match_in_sql(searcher):
    by_relevance = run(searcher, "prices rates power sales Iran", mode="keyword", limit=50)
    ranks = {r.uid: r.explain["keyword_rank"] for r in by_relevance.results}
    assert by_relevance.total == len(by_relevance.results) == len(ranks) > 3
    assert sorted(ranks.values()) == list(range(1, len(ranks) + 1))
    newest = run(searcher, "prices rates power sales Iran", mode="keyword", sort="newest", limit=50)
    assert [r.published_at for r in newest.results] == sorted((r.published_at for r in newest.results), reverse=True)
    assert {r.uid: r.explain["keyword_rank"] for r in newest.results} == ranks  # relevance rank kept in explain
    oldest = run(searcher, "prices rates power sales Iran", mode="keyword", sort="oldest", limit=2, offset=1)
    assert [r.uid for r in oldest.results] == [r.uid for r in newest.results][::-1][1:3]
    assert oldest.total == by_relevance.total
    assert sum(f["count"] for f in newest.facets["year"]) == newest.total


def test_hybrid_pages_agree_with_the_first_page_whatever_the_depth(seeded_archive):
    searcher = Searcher(
        seeded_archive, seeded_archive.settings.with_(candidates=4)
    )  # windows much smaller than the pages
    full = searcher.search(SearchRequest(q="Iran oil prices strike", limit=20))
    pages = [
        r.uid
        for off in range(0, 20, 3)
        for r in searcher.search(SearchRequest(q="Iran oil prices strike", limit=3, offset=off)).results
    ]
    assert pages == [r.uid for r in full.results] and len(pages) == full.total


def test_pagination_is_consistent(searcher):
    for mode in MODES:
        full = [r.uid for r in run(searcher, "government officials said", mode=mode, limit=12).results]
        pages = [
            r.uid
            for off in (0, 4, 8)
            for r in run(searcher, "government officials said", mode=mode, limit=4, offset=off).results
        ]
        assert pages == full, mode
    response = run(searcher, "Iran", limit=10_000)
    assert response.limit == MAX_LIMIT
    assert run(searcher, "Iran", offset=500).results == []
    with pytest.raises(BadQuery):
        run(searcher, "Iran", limit=0)
    with pytest.raises(BadQuery):
        run(searcher, "Iran", mode="fuzzy")


def test_total_and_facets_cover_the_candidate_set(searcher):
    response = run(searcher, "Iran nuclear cameras", mode="keyword")
    assert response.total == 2
    assert response.facets["source"] == [{"value": "Global Wire", "count": 1}]  # the seed names no outlet
    assert response.facets["year"] == [{"value": "2022", "count": 2}]
    hybrid = run(searcher, "Iran nuclear cameras", mode="hybrid", limit=1)
    assert hybrid.total == 13 and len(hybrid.results) == 1  # semantic side ranks every article
    assert sum(f["count"] for f in hybrid.facets["year"]) == 13


def test_highlighting_escapes_article_html(searcher):
    response = run(searcher, "harbour festival", mode="keyword")
    top = response.results[0]
    assert top.uid == "xss-001"
    assert "<script" not in top.passage_html and "<img" not in top.passage_html
    assert "<mark>harbour</mark>" in top.passage_html.lower()
    assert all(top.passage[s:e].lower().startswith(("harbour", "festival")) for s, e in top.highlights)


def test_passage_is_the_display_text_of_a_slice_of_the_body(searcher):
    with searcher.archive.engine.connect() as conn:
        body = conn.execute(text("SELECT body FROM articles WHERE uid = :u"), {"u": SEED_UID}).scalar_one()
    for mode in MODES:
        r = run(searcher, "Raisi state television", mode=mode).results[0]
        assert r.uid == SEED_UID
        assert " ".join(body[r.passage_start : r.passage_end].split()) == r.passage  # line breaks shown as spaces


def test_semantic_mode_finds_meaning_without_shared_words(searcher):
    uids = [
        r.uid for r in run(searcher, "Tehran switches off UN watchdog surveillance equipment", mode="semantic").results
    ]
    assert SEED_UID in uids[:3]


def test_fusion_settings_are_honoured(seeded_archive):
    keyword_only = Searcher(seeded_archive, seeded_archive.settings.with_(semantic_weight=0.0))
    assert [r.uid for r in keyword_only.search(SearchRequest(q="Iran camera disconnection")).results] == [
        SEED_UID,
        "wire-003",
    ]
    for fusion in ("rrf", "minmax", "zscore"):
        fused = Searcher(seeded_archive, seeded_archive.settings.with_(fusion=fusion)).search(
            SearchRequest(q="Iran camera disconnection")
        )
        assert fused.results[0].uid == SEED_UID, fusion
    with pytest.raises(ValueError):
        Searcher(seeded_archive, seeded_archive.settings.with_(fusion="borda"))
    assert Searcher(seeded_archive, seeded_archive.settings.with_(rrf_k=7)).settings.rrf_k == 7


@pytest.mark.sqlite_only("FTS5's external-content table and its triggers (PostgreSQL's: test_keyword_postgres.py)")
def test_article_index_is_backfilled_and_kept_by_triggers(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'a.db'}")
    migrate(engine)
    insert = text(
        "INSERT INTO articles (uid, title, body, content_hash, ingested_at, extra) "
        "VALUES (:u, :t, :b, :u, '2024-01-01', '{}')"
    )
    with engine.begin() as conn:
        conn.execute(
            insert, [{"u": "a", "t": "Harbour", "b": "boats and ferries"}, {"u": "b", "t": "Rail", "b": "trains"}]
        )
        # Simulate an archive made before article_fts existed.
        for name in ("article_fts_ai", "article_fts_ad", "article_fts_au"):
            conn.execute(text(f"DROP TRIGGER {name}"))
        conn.execute(text("DROP TABLE article_fts"))
        conn.execute(text("DROP TABLE alembic_version"))  # and before migrations existed
        conn.execute(insert, {"u": "c", "t": "Ferry strike", "b": "no ferries today"})

    def matches(q: str) -> list[str]:
        with engine.connect() as conn:
            return [
                r[0]
                for r in conn.execute(
                    text(
                        "SELECT a.uid FROM article_fts f JOIN articles a ON a.id = f.rowid WHERE article_fts MATCH :q ORDER BY a.uid"
                    ),
                    {"q": q},
                )
            ]

    migrate(engine)  # reopen: backfill
    assert matches("ferry") == ["a", "c"]  # porter: ferries ~ ferry
    with engine.begin() as conn:
        conn.execute(text("UPDATE articles SET body = 'buses' WHERE uid = 'a'"))
        conn.execute(text("DELETE FROM articles WHERE uid = 'c'"))
    assert matches("ferry") == []
    assert matches("buses") == ["a"]
    migrate(engine)  # idempotent
    assert matches("train") == ["b"]


def test_passage_is_the_chunk_showing_most_query_words(archive):
    from archive.documents import Article
    from archive.write import ingest

    filler = " ".join(f"The harbour board met on day {i} and discussed the weather at length." for i in range(40))
    body = (
        filler
        + "\n\n"
        + "Copper smelters asked for a tariff on imports. "
        + filler
        + "\n\nThe copper tariff quota was finally set by the ministry in March. "
        + filler
    )
    ingest(archive, [Article(uid="multi", title="Harbour board minutes", body=body)])
    assert len(archive.chunk_ids()) >= 4
    for mode in MODES:
        r = Searcher(archive).search(SearchRequest(q="copper tariff quota", mode=mode)).results[0]
        assert "copper tariff quota" in r.passage.lower(), mode  # all three words, not just "copper tariff"
        assert r.passage_html.lower().count("<mark>") >= 3
