"""Query words holding a digit weigh `number_weight` times in BM25, the same on FTS5 and PostgreSQL."""

from __future__ import annotations

import pytest

from archive.documents import Article
from archive.query import parse_query
from archive.search import Searcher, SearchRequest
from archive.search.terms import ranking_terms
from archive.write import ingest


def test_words_holding_a_digit_are_listed_number_weight_times():
    query = parse_query("Tin output 1987 3RD quarter IL-6")
    assert ranking_terms(query).terms == ranking_terms(query, 1).terms
    plain = ranking_terms(query).terms
    doubled = ranking_terms(query, 2).terms
    assert [t for t in doubled if not any(c.isdigit() for c in t)] == [
        t for t in plain if not any(c.isdigit() for c in t)
    ]
    numbers = [t for t in plain if any(c.isdigit() for c in t)]
    assert len(numbers) == 3  # 1987, 3RD and the IL-6 phrase
    assert all(doubled.count(t) == 2 for t in numbers)
    assert len(doubled) == len(plain) + len(numbers)


def test_a_number_counts_twice_in_bm25_and_the_match_set_is_unchanged(archive):
    """On both backends: an article holding only the number scores exactly twice as much, one holding
    only the word the same; every other article's score is unchanged and no article is added or lost."""
    articles = [
        Article(uid="year", title="Harvest report", body="The harvest of 1987 was late in the north."),
        Article(uid="word", title="Harvest report", body="The tin harvest was late in the north."),
        Article(uid="both", title="Tin report", body="Tin stocks in 1987 rose after a late harvest."),
        Article(uid="none", title="Weather report", body="Rain fell in the north for a week."),
        Article(uid="more", title="Mining report", body="Copper and zinc mines reopened in the south."),
    ]
    assert ingest(archive, articles).added == len(articles)
    query = parse_query("tin 1987")
    with archive.engine.connect() as conn:
        uid = dict(conn.exec_driver_sql("SELECT id, uid FROM articles").all())
        once = {uid[i]: s for i, s in archive.keyword.rank(conn, ranking_terms(query, 1), 10, 3.0)}
        twice = {uid[i]: s for i, s in archive.keyword.rank(conn, ranking_terms(query, 2), 10, 3.0)}
    assert set(once) == set(twice) == {"year", "word", "both"}
    assert twice["year"] == pytest.approx(2 * once["year"], rel=1e-6)
    assert twice["word"] == pytest.approx(once["word"], rel=1e-6)
    assert once["year"] < twice["both"] < 2 * once["both"]  # its "tin" part stays once


def test_the_hybrid_keyword_side_follows_the_setting_and_keyword_mode_counts_numbers_once(archive):
    """A rarer word beats a number at weight 1; counted twice, the number wins the hybrid keyword side.
    Keyword mode ranks by plain BM25 whatever the setting."""
    filler = [Article(uid=f"f{i}", title=f"Note {i}", body=f"Item {i} of the week was filed.") for i in range(7)]
    articles = [
        Article(uid="word", title="Price notice", body="Zinc prices were posted for the week."),
        Article(uid="year", title="Annual notice", body="The accounts for 1987 were posted."),
        Article(uid="also", title="Other notice", body="Other accounts for 1987 were filed late."),
        *filler,
    ]
    ingest(archive, articles)

    def first(weight: int, mode: str) -> str:
        searcher = Searcher(archive, archive.settings.with_(number_weight=weight))
        results = searcher.search(SearchRequest(q="zinc 1987", mode=mode, limit=10)).results
        return next(r.uid for r in results if r.explain["keyword_rank"] == 1)

    assert first(1, "hybrid") == "word"  # zinc is in one article of ten, 1987 in two
    assert first(2, "hybrid") == "year"
    assert first(1, "keyword") == first(2, "keyword") == "word"
