"""Label facets and filters from `extra` (Settings.label_fields): stored with the article, kept on update and delete."""

from __future__ import annotations

import pytest

from archive.documents import Article, extra_labels
from archive.search import Searcher, SearchRequest
from archive.write import ingest


def test_extra_labels_are_short_strings_and_lists_of_them():
    extra = {"topics": ["Crude", " nat-gas ", "", 3], "places": "USA", "note": "x" * 65, "nested": {"a": "b"}}
    assert extra_labels(extra) == {("topics", "crude"), ("topics", "nat-gas"), ("places", "usa")}
    assert extra_labels(None) == set()


@pytest.fixture
def labelled(archive):
    ingest(
        archive,
        [
            Article(uid="a", title="Oil output", body="Saudi oil output rose.", extra={"topics": ["crude"]}),
            Article(uid="b", title="Oil and gas", body="Gas and oil prices.", extra={"topics": ["crude", "nat-gas"]}),
            Article(uid="c", title="Wheat crop", body="Oil seed and wheat.", extra={"topics": ["wheat"], "x": "y"}),
        ],
    )
    return archive


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
def test_label_filter_typed_or_as_parameter_and_facet_counts(labelled, mode):
    searcher = Searcher(labelled)
    typed = searcher.search(SearchRequest(q="oil topic:crude", mode=mode))
    explicit = searcher.search(SearchRequest(q="oil", mode=mode, labels=(("topic", "CRUDE"),)))
    assert {r.uid for r in typed.results} == {r.uid for r in explicit.results} == {"a", "b"}
    assert typed.filters["topic"] == "crude"
    everything = searcher.search(SearchRequest(q="oil", mode=mode))
    assert everything.facets["topic"][0] == {"value": "crude", "count": 2}
    assert {f["value"] for f in everything.facets["topic"]} == {"crude", "nat-gas", "wheat"}


def test_filter_alone_browses_and_unknown_label_is_a_400(labelled):
    from archive.errors import BadQuery

    searcher = Searcher(labelled)
    assert [r.uid for r in searcher.search(SearchRequest(q="topic:wheat")).results] == ["c"]
    with pytest.raises(BadQuery) as err:
        searcher.search(SearchRequest(q="oil", labels=(("colour", "red"),)))
    assert err.value.param == "colour"
    assert searcher.search(SearchRequest(q="colour:red", mode="keyword")).total == 0  # not a label: plain words


def test_labels_follow_updates_and_deletes(labelled):
    from archive.write import delete_article

    ingest(labelled, [Article(uid="a", title="Oil output", body="Saudi oil output fell.", extra={"topics": ["ship"]})])
    searcher = Searcher(labelled)
    assert [r.uid for r in searcher.search(SearchRequest(q="topic:ship")).results] == ["a"]
    assert {r.uid for r in searcher.search(SearchRequest(q="topic:crude")).results} == {"b"}
    delete_article(labelled, "b")
    assert searcher.search(SearchRequest(q="topic:crude")).total == 0


def test_api_parameter_facet_and_article_page_links(labelled):
    from archive.web import create_app

    client = create_app(archive=labelled).test_client()
    body = client.get("/api/search?q=oil&topic=nat-gas&mode=keyword").get_json()
    assert [r["uid"] for r in body["results"]] == ["b"] and body["filters"]["topic"] == "nat-gas"
    assert client.get("/api/search?q=oil&colour=red").status_code == 400
    html = client.get("/articles/c").get_data(as_text=True)
    details = html.split('class="details"', 1)[1]
    assert "q=topic:%22wheat%22" in details and ">wheat</a>" in details
    assert ">y<" not in details  # bookkeeping fields of extra stay off the page
