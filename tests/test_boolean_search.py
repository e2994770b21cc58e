"""Boolean search end to end over a 12-article corpus with known words, in every mode (hash encoder, no model).

The table is the acceptance test of "Boolean search as newsrooms know it": each query's keyword
matches are exactly the articles the operators describe, and semantic and hybrid results respect
what the query requires and excludes (optional words restrict nothing there, as before).
"""

from __future__ import annotations

import pytest

from archive.documents import Article
from archive.search import Searcher, SearchRequest
from archive.write import ingest
from tests.conftest import hash_archive

pytestmark = pytest.mark.integration

# uid: (title, body). Word sets by design (porter stems: "exports", "exporters" -> export).
CORPUS = {
    "a1": ("Brazil coffee harvest", "Coffee prices rose as Brazil reported a smaller harvest."),
    "a2": ("Coffee exports climb", "Brazil shipped more coffee abroad this month."),
    "a3": ("Market report", "Coffee and cocoa futures were mixed; Brazil was quiet."),
    "a4": ("Ghana cocoa crop", "Cocoa farmers in Ghana expect a record crop."),
    "a5": ("Cocoa exporters meet", "Ghana and Ivory Coast exporters discussed cocoa prices."),
    "a6": ("Coffee in Ghana", "A coffee roaster opened in Ghana."),
    "a7": ("Coffee prices fall", "Coffee prices fell in London trading."),
    "a8": ("Oil output", "Brazil raised oil output offshore."),
    "a9": ("Oil exports", "Ghana oil exports grew."),
    "a10": ("Oil prices", "Oil prices steadied after the OPEC meeting."),
    "a11": ("Brazil election", "Voters in Brazil went to the polls."),
    "a12": ("Tea market", "Tea auctions in Kenya were steady."),
}
ALL = set(CORPUS)
COFFEE = {"a1", "a2", "a3", "a6", "a7"}
BRAZIL = {"a1", "a2", "a3", "a8", "a11"}
COCOA = {"a3", "a4", "a5"}
GHANA = {"a4", "a5", "a6", "a9"}

# query -> (keyword matches, the articles semantic and hybrid results may come from: the Boolean
# restriction; ALL when the query only has optional words). None: the query is empty (no results).
BOOLEAN_TABLE: dict[str, tuple[set[str], set[str] | None]] = {
    "coffee AND brazil": (COFFEE & BRAZIL, COFFEE & BRAZIL),
    "coffee brazil": (COFFEE | BRAZIL, ALL),
    "coffee OR cocoa": (COFFEE | COCOA, ALL),
    "coffee NOT brazil": (COFFEE - BRAZIL, ALL - BRAZIL),
    "coffee -brazil": (COFFEE - BRAZIL, ALL - BRAZIL),
    "+coffee brazil": (COFFEE, COFFEE),
    "(coffee OR cocoa) AND ghana": ((COFFEE | COCOA) & GHANA, (COFFEE | COCOA) & GHANA),
    "brazil OR cocoa AND ghana": (BRAZIL | (COCOA & GHANA), BRAZIL | (COCOA & GHANA)),
    "(brazil OR cocoa) AND ghana": ((BRAZIL | COCOA) & GHANA, (BRAZIL | COCOA) & GHANA),
    "oil AND NOT (brazil OR ghana)": ({"a10"}, {"a10"}),
    '"coffee prices"': ({"a1", "a7"}, {"a1", "a7"}),
    "title:brazil": ({"a1", "a11"}, {"a1", "a11"}),
    "title:(coffee OR cocoa)": ({"a1", "a2", "a4", "a5", "a6", "a7"}, {"a1", "a2", "a4", "a5", "a6", "a7"}),
    "export*": ({"a2", "a5", "a9"}, ALL),
    "coffee AND": (COFFEE, ALL),
    "AND coffee": (COFFEE, ALL),
    "(coffee": (COFFEE, ALL),
    "coffee)": (COFFEE, ALL),
    "coffee AND OR brazil": (COFFEE | BRAZIL, ALL),
    "NOT": (set(), None),
    "title:": (set(), None),
    "*": (set(), None),
    "()": (set(), None),
    "-coffee": (set(), None),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, hash_encoder):
    """The `archive` fixture's set-up (hash encoder), once for the module."""
    archive = hash_archive(tmp_path_factory, "boolean", hash_encoder)
    report = ingest(archive, [Article(title=t, body=b, uid=uid) for uid, (t, b) in CORPUS.items()])
    assert report.added == len(CORPUS), report.as_dict()
    yield Searcher(archive)
    archive.close()


def found(searcher: Searcher, q: str, mode: str) -> tuple[int, list[str]]:
    response = searcher.search(SearchRequest(q=q, mode=mode, limit=50))
    return response.total, [r.uid for r in response.results]


@pytest.mark.parametrize("q", list(BOOLEAN_TABLE))
def test_keyword_matches_are_exactly_the_boolean_set(corpus, q):
    expected, _ = BOOLEAN_TABLE[q]
    total, uids = found(corpus, q, "keyword")
    assert set(uids) == expected
    assert total == len(expected)


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
@pytest.mark.parametrize("q", list(BOOLEAN_TABLE))
def test_semantic_and_hybrid_respect_required_and_excluded(corpus, q, mode):
    keyword, allowed = BOOLEAN_TABLE[q]
    total, uids = found(corpus, q, mode)
    if allowed is None:
        assert (total, uids) == (0, [])
        return
    # The hash encoder finds every allowed article "similar" (a window of 300 chunks covers them all),
    # so the results are exactly the allowed set; hybrid adds nothing outside it.
    assert set(uids) == allowed
    assert keyword <= allowed
    assert total == len(allowed)


def test_coffee_and_brazil_is_the_intersection_not_the_union(corpus):
    _, both = found(corpus, "coffee AND brazil", "keyword")
    _, either = found(corpus, "coffee brazil", "keyword")
    assert sorted(both) == sorted(COFFEE & BRAZIL) and len(either) == len(COFFEE | BRAZIL)


def test_boolean_matches_rank_as_their_plain_words_do(corpus):
    """BM25 over the same words: the intersection comes in the order the plain query gives those articles."""
    _, boolean = found(corpus, "coffee AND brazil", "keyword")
    _, plain = found(corpus, "coffee brazil", "keyword")
    assert boolean == [uid for uid in plain if uid in COFFEE & BRAZIL]


def test_required_and_optional_words_highlight(corpus):
    response = corpus.search(SearchRequest(q="+coffee brazil -cocoa", mode="keyword"))
    top = next(r for r in response.results if r.uid == "a1")
    marked = {top.passage[s:e].lower() for s, e in top.highlights}
    assert marked >= {"coffee", "brazil"}


def test_prefix_ranks_within_a_title_search_and_highlights(corpus):
    _, uids = found(corpus, "title:coffee export*", "keyword")
    assert set(uids) == {"a1", "a2", "a6", "a7"} and uids[0] == "a2"  # the one title with exports ranks first
    response = corpus.search(SearchRequest(q="export* AND ghana", mode="keyword"))
    marked = {r.uid: {r.passage[s:e].lower() for s, e in r.highlights} for r in response.results}
    assert marked.keys() == {"a5", "a9"}
    assert "exporters" in marked["a5"] and "exports" in marked["a9"]
