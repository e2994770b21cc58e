"""Property tests: whatever a user types, search raises only BadQuery and the API never answers 500
(the parser alone is fuzzed in tests/test_query.py, parameters one by one in tests/test_api.py)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.errors import BadQuery
from archive.search import Searcher, SearchRequest
from tests.strategies import QUERIES

pytestmark = pytest.mark.integration


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=QUERIES, mode=st.sampled_from(["keyword", "semantic", "hybrid"]))
def test_search_raises_only_bad_query(seeded_archive, q: str, mode: str) -> None:
    try:
        response = Searcher(seeded_archive).search(SearchRequest(q=q, mode=mode, limit=5))
    except BadQuery:
        return
    assert response.total >= len(response.results)
    for r in response.results:
        assert "<script" not in r.passage_html


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    q=QUERIES,
    mode=st.sampled_from([None, "keyword", "semantic", "hybrid", "bogus", ""]),
    extra=st.dictionaries(
        st.sampled_from(["limit", "offset", "sort", "source", "after", "before", "author"]),
        st.one_of(
            st.sampled_from(["0", "-1", "5", "100", "1000", "x", "newest", "2022-01-01", ""]), st.text(max_size=12)
        ),
        max_size=3,
    ),
)
def test_api_search_never_answers_500(client, q: str, mode: str | None, extra: dict[str, str]) -> None:
    params = {"q": q, **extra}
    if mode is not None:
        params["mode"] = mode
    response = client.get("/api/search?" + urlencode(params), headers={"Accept": "application/json"})
    assert response.status_code in (200, 400), (params, response.get_data(as_text=True)[:300])
    body = response.get_json()
    assert body is not None
    if response.status_code == 200:
        assert isinstance(body["results"], list)
