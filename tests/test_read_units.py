"""Pure units of the read side: semantic scoring of chunk hits, passage tiling, safe links (no archive).

The timeline and its date histogram: tests/test_timeline.py; reflowed paragraphs: tests/test_reflow.py."""

from __future__ import annotations

import pytest

from archive.config import Settings
from archive.reading import split_passages
from archive.search import SearchRequest
from archive.search.candidates import fusion_weights, semantic_article_scores
from archive.web.security import safe_href


def test_semantic_article_score_is_best_chunk_plus_bonus():
    hits = [(10, 0.9), (20, 0.85), (21, 0.8), (22, 0.7), (11, 0.2)]
    owners = {10: 1, 11: 1, 20: 2, 21: 2, 22: 2}
    assert semantic_article_scores(hits, owners, 0.0) == [(1, 0.9, 10, 0.9), (2, 0.85, 20, 0.85)]
    scored = semantic_article_scores(hits, owners, 0.1)
    assert [t[0] for t in scored] == [2, 1]  # three matching chunks beat one slightly better one
    assert scored[0][1] == pytest.approx(0.85 + 0.1 * (0.8 + 0.7))
    assert semantic_article_scores([(99, 0.5)], {}, 0.1) == []  # a chunk deleted meanwhile
    # Only the first `bonus_window` hits earn a bonus: widening the search never reorders the top.
    assert semantic_article_scores(hits, owners, 0.1, bonus_window=2)[0] == (1, 0.9, 10, 0.9)


@pytest.mark.parametrize(
    ("q", "semantic"),
    [
        ("iran cameras", 0.25),  # two remembered words: the keyword side leads
        ("the iran cameras", 0.25),  # stopwords are not counted
        ('+iran "nuclear talks"', 0.25),  # required words and phrase words count
        ("iran iaea cameras switched", 1.0),  # four words: equal weights
        ("IRAN SWITCHES OFF IAEA CAMERAS", 1.0),  # a headline
        ("the a", 1.0),  # nothing but stopwords: not a short query of content words
    ],
)
def test_short_queries_weigh_the_semantic_side_down(q, semantic):
    query = SearchRequest(q=q, mode="hybrid").validated().query()
    assert fusion_weights(Settings(), query) == {"keyword": 1.0, "semantic": semantic}
    assert fusion_weights(Settings(short_query_words=0), query) == {"keyword": 1.0, "semantic": 1.0}
    assert fusion_weights(Settings(semantic_weight=2.0), query)["semantic"] == 2.0 * semantic


def test_split_passages_tiles_the_body_without_repeating_overlap():

    body = "One. Two.\nThree. Four. Five."
    # chunk 1 starts at "Three." (offset 10) and overlaps chunk 0 by one sentence
    passages = split_passages(body, [(0, 0, 16), (1, 10, len(body))])
    assert [(p.seq, p.start, p.end) for p in passages] == [(0, 0, 10), (1, 10, len(body))]
    assert [body[a:b] for a, b in passages[0].paragraphs] == ["One. Two."]
    assert not passages[0].runs_on
    mid = split_passages("Alpha beta. Gamma delta.", [(0, 0, 12), (1, 12, 24)])
    assert mid[0].runs_on and not mid[1].runs_on


def test_split_passages_without_chunks_is_one_passage():

    (p,) = split_passages("Just text.\n\nMore.", [])
    assert (p.seq, p.start, p.end) == (0, 0, 17) and len(p.paragraphs) == 2


def test_safe_href():

    assert safe_href("https://example.org/a?b=1") == "https://example.org/a?b=1"
    for bad in (
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "data:text/html,x",
        "//evil.example",
        "ftp://x",
        "",
        None,
        "http://",
    ):
        assert safe_href(bad) is None
