"""The relevance floor and honest totals: semantic and hybrid results only where something justifies them.

Meaning is the point here, so the real model (the seeded archive: the seed and 12 stories on other
subjects); the bookkeeping rules (minimum-should-match, total_relation) also run on the hash encoder.
"""

from __future__ import annotations

import pytest
from conftest import SEED_UID

from archive.config import Settings
from archive.documents import Article
from archive.search import Searcher, SearchRequest
from archive.search.justify import needed_matches

MEANING_MODES = ("semantic", "hybrid")


@pytest.fixture(scope="module")
def searcher(seeded_archive) -> Searcher:
    return Searcher(seeded_archive)  # the archive's own settings: the calibrated floor


def run(searcher: Searcher, q: str, **kw):
    return searcher.search(SearchRequest(q=q, **kw))


@pytest.mark.parametrize("mode", list(MEANING_MODES))
def test_nothing_found_when_nothing_is_close_in_meaning_or_in_words(searcher, mode):
    response = run(searcher, "bitcoin blockchain", mode=mode)
    assert (response.total, response.results, response.total_relation) == (0, [], "eq")


@pytest.mark.parametrize("mode", list(MEANING_MODES))
def test_every_result_is_justified_and_the_seed_leads(searcher, mode):
    settings = searcher.settings
    response = run(searcher, "Iran camera disconnection", mode=mode, limit=50)
    assert response.results[0].uid == SEED_UID
    assert response.total == len(response.results) < 13  # the seeded archive holds 13 stories on 13 subjects
    for r in response.results:
        by_meaning = r.explain["cosine"] is not None and r.explain["cosine"] >= settings.relevance_floor
        assert by_meaning or len(r.matched_words) == 3, r.title
    seed = response.results[0]
    assert seed.matched_words == ["Iran", "camera", "disconnection"]  # stemmed matches: cameras, disconnect
    assert seed.meaning == "close in meaning"


def test_the_floor_is_a_setting(seeded_archive):
    off = Searcher(seeded_archive, seeded_archive.settings.with_(relevance_floor=-1))
    assert run(off, "bitcoin blockchain", mode="semantic").total == 13  # without a floor, everything is "similar"


@pytest.mark.parametrize("mode", ["keyword", *MEANING_MODES])
@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_a_date_sort_orders_exactly_the_results_relevance_order_shows(searcher, mode, sort):
    for q in ("Iran camera disconnection", "prices rates power sales", "solar power"):
        by_relevance = run(searcher, q, mode=mode, limit=50)
        by_date = run(searcher, q, mode=mode, sort=sort, limit=50)
        assert by_date.total == by_relevance.total
        assert {r.uid for r in by_date.results} == {r.uid for r in by_relevance.results}
        dates = [r.published_at for r in by_date.results if r.published_at]
        assert dates == sorted(dates, reverse=sort == "newest")


def test_keyword_results_name_their_words_and_no_meaning(searcher):
    response = run(searcher, "Iran cameras", mode="keyword")
    assert response.results and all(r.meaning is None for r in response.results)
    assert all(set(r.matched_words) <= {"Iran", "cameras"} and r.matched_words for r in response.results)
    required = run(searcher, "+Iran cameras", mode="keyword")
    assert all(r.matched_words[0] == "Iran" for r in required.results)  # required words listed first


def test_needed_matches_is_all_words_of_short_queries_then_a_share():
    s = Settings(min_match_all=3, min_match_share=0.75)  # Lucene's common 75%; the default is a third
    assert [needed_matches(n, s) for n in range(9)] == [0, 1, 2, 3, 3, 4, 5, 6, 6]
    assert needed_matches(15, s) == 12
    assert needed_matches(4, Settings(min_match_all=3, min_match_share=0.0)) == 1  # never zero words


def test_words_justify_a_result_the_floor_would_drop(archive):
    """Hash encoder, floor set above every cosine: only enough of the query's words keep a result."""
    from archive.write import ingest

    ingest(
        archive,
        [
            Article(uid="both", title="Coffee harvest", body="Brazil's coffee harvest is late this year."),
            Article(uid="one", title="Coffee prices", body="Coffee prices rose in London."),
            Article(uid="none", title="Tea auction", body="Tea sold well in Mombasa."),
        ],
    )
    strict = Searcher(archive, archive.settings.with_(relevance_floor=1.01))
    for mode in MEANING_MODES:
        response = run(strict, "coffee brazil", mode=mode)
        assert [r.uid for r in response.results] == ["both"], mode
        assert response.results[0].meaning is None and response.results[0].matched_words == ["coffee", "brazil"]
    assert run(strict, "coffee AND brazil", mode="hybrid").total == 1
    assert {r.uid for r in run(strict, "coffee", mode="semantic").results} == {"both", "one"}


def test_a_full_candidate_window_makes_the_total_a_lower_bound(archive):
    from archive.write import ingest

    ingest(
        archive,
        [Article(uid=f"a{i}", title=f"Harbour report {i}", body=f"The harbour reopened on day {i}.") for i in range(6)],
    )
    narrow = Searcher(archive, archive.settings.with_(candidates=3))
    response = run(narrow, "harbour", mode="hybrid")
    assert response.total_relation == "gte" and response.total >= 3
    assert run(Searcher(archive), "harbour", mode="hybrid").total_relation == "eq"
    assert run(Searcher(archive), "harbour", mode="keyword").total_relation == "eq"
