"""The JSON API: every endpoint, every error status, and the envelope shapes (pinned)."""

from __future__ import annotations

import itertools
import json
import threading
from urllib.parse import quote

import pytest
from conftest import SEED_UID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.config import Settings as ArchiveSettings

pytestmark = pytest.mark.integration

QUERY = "Iran camera disconnection"
KEY = "s3cret-key-for-tests"
AUTH = {"Authorization": f"Bearer {KEY}"}
SEARCH_KEYS = set(
    "ok query mode total total_relation limit offset sort collapse results facets date_bucket filters took_ms next "
    "prev did_you_mean".split()
)
ARCHIVE_DEFAULTS = ArchiveSettings()
RESULT_KEYS = set(
    "id uid title source author url published_at score passage passage_html highlights chunk_id chunk_seq "
    "passage_start passage_end explain matched_words meaning versions thread".split()
)
ERROR_KEYS = {"ok", "error", "status"}


def assert_error(response, status: int, param: str | None = None) -> dict:
    """The error envelope, exactly: ok false, error text, status repeated, param only for a named parameter."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == ERROR_KEYS | ({"param"} if param else set()), body
    assert body["ok"] is False and body["status"] == status
    assert isinstance(body["error"], str) and body["error"]
    if param:
        assert body["param"] == param
    return body


def article(uid: str, text: str, **fields) -> dict:
    """A JSON article record as a client would POST it."""
    return {"id": uid, "title": f"Story {uid}", "text": text, "source": "Test Wire", "date": "2024-03-01", **fields}


@pytest.fixture
def write_client(archive):
    """A client over a fresh, empty archive whose app has an API key (never the shared seeded archive)."""
    from archive.web import create_app

    app = create_app(settings=archive.settings.with_(api_key=KEY, rate_limit="off"), archive=archive)
    app.config.update(TESTING=True)
    return app.test_client()


# ------------------------------------------------------------------------------ search


def test_api_search_envelope_and_seed_first(client):
    r = client.get("/api/search", query_string={"q": QUERY})
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = r.get_json()
    assert set(body) == SEARCH_KEYS
    assert body["ok"] is True and body["query"] == QUERY and body["mode"] == "hybrid"
    assert body["limit"] == 10 and body["offset"] == 0 and body["sort"] == "relevance"
    assert body["results"][0]["uid"] == SEED_UID
    assert set(body["results"][0]) == RESULT_KEYS
    assert set(body["results"][0]["explain"]) >= {"keyword_rank", "semantic_rank", "fused_score"}
    assert "<mark>" in body["results"][0]["passage_html"]
    assert set(body["facets"]) == {"source", "year", "date", *ARCHIVE_DEFAULTS.labels}
    assert body["date_bucket"] == "year" and [d["value"] for d in body["facets"]["date"]] == ["2021", "2022", "2023"]
    assert sum(d["count"] for d in body["facets"]["date"]) == sum(y["count"] for y in body["facets"]["year"])
    assert set(body["filters"]) == {"source", "author", "after", "before", *ARCHIVE_DEFAULTS.labels}


@pytest.mark.parametrize("how", [{"headers": {"Accept": "application/json"}}, {"query_string": {"format": "json"}}])
def test_search_page_answers_json_to_api_clients(client, how):
    url = "/search?q=Iran+camera+disconnection"
    if "query_string" in how:
        url += "&format=json"
    r = client.get(url, headers=how.get("headers"))
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = r.get_json()
    assert set(body) == SEARCH_KEYS and body["ok"] is True
    assert body["results"][0]["uid"] == SEED_UID


def test_search_page_stays_html_for_browsers(client):
    r = client.get(
        "/search?q=Iran", headers={"Accept": "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8"}
    )
    assert r.status_code == 200 and r.mimetype == "text/html"


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
def test_every_mode_finds_the_seed(client, mode):
    body = client.get("/api/search", query_string={"q": QUERY, "mode": mode}).get_json()
    assert body["mode"] == mode
    assert body["results"][0]["uid"] == SEED_UID


@pytest.mark.parametrize("sort,reverse", [("newest", True), ("oldest", False)])
def test_sort_by_date(client, sort, reverse):
    body = client.get("/api/search", query_string={"q": "news report", "sort": sort, "limit": 100}).get_json()
    dates = [r["published_at"] for r in body["results"] if r["published_at"]]
    assert len(dates) > 3 and dates == sorted(dates, reverse=reverse)


def test_filters_source_author_and_dates(client):
    q = {"q": "prices inflation Iran storm", "mode": "keyword"}
    by_source = client.get("/api/search", query_string={**q, "source": "global wire"}).get_json()
    assert by_source["results"] and {r["source"] for r in by_source["results"]} == {"Global Wire"}
    assert by_source["filters"]["source"] == "global wire"
    by_author = client.get("/api/search", query_string={**q, "author": "ruiz"}).get_json()
    assert by_author["results"] and all("Ruiz" in r["author"] for r in by_author["results"])
    dated = client.get(
        "/api/search", query_string={"q": QUERY, "after": "2022-01-01", "before": "2023-01-01"}
    ).get_json()
    assert dated["results"] and all(r["published_at"].startswith("2022") for r in dated["results"])
    assert dated["filters"]["after"] == "2022-01-01" and dated["filters"]["before"] == "2023-01-01"
    assert [f["value"] for f in dated["facets"]["year"]] == ["2022"]


def test_paging_offsets_partition_the_ranking(client):
    everything = client.get("/api/search", query_string={"q": QUERY, "limit": 100}).get_json()
    first = client.get("/api/search", query_string={"q": QUERY, "limit": 5}).get_json()
    second = client.get("/api/search", query_string={"q": QUERY, "limit": 5, "offset": 5}).get_json()
    ids = [r["id"] for r in everything["results"]]
    assert [r["id"] for r in first["results"]] == ids[:5]
    assert [r["id"] for r in second["results"]] == ids[5:10]
    assert first["total"] == second["total"] == everything["total"] > 5
    past = client.get("/api/search", query_string={"q": QUERY, "offset": 500}).get_json()
    assert past["results"] == [] and past["total"] == everything["total"]


@pytest.mark.parametrize("limit", ["101", "500", "1000"])
def test_limit_above_100_is_clamped(client, limit):
    body = client.get("/api/search", query_string={"q": QUERY, "limit": limit}).get_json()
    assert body["ok"] is True and body["limit"] == 100


def test_empty_query_is_an_empty_page_not_an_error(client):
    body = client.get("/api/search").get_json()
    assert body["ok"] is True and body["total"] == 0 and body["results"] == []


@pytest.mark.parametrize(
    "param,value",
    [
        ("limit", "-1"),
        ("limit", "0"),
        ("limit", str(10**9)),
        ("limit", "1001"),
        ("limit", "abc"),
        ("limit", "1.5"),
        ("offset", "abc"),
        ("offset", "-1"),
        ("offset", str(10**12)),
        ("after", "yesterday"),
        ("after", "2022-02-30"),
        ("before", "01/02/2022"),
        ("mode", "foo"),
        ("sort", "x"),
    ],
)
def test_bad_parameter_is_400_naming_it(client, param, value):
    r = client.get("/api/search", query_string={"q": QUERY, param: value})
    body = assert_error(r, 400, param)
    assert param in body["error"]


def test_after_not_before_before_is_400(client):
    assert_error(
        client.get("/api/search", query_string={"q": "x", "after": "2023-01-01", "before": "2022-01-01"}), 400, "after"
    )


def test_bad_filter_typed_in_q_is_400_naming_q(client):
    assert_error(client.get("/api/search", query_string={"q": "iran after:someday"}), 400, "q")


def test_bad_parameter_on_search_json_is_json_400(client):
    r = client.get("/search?q=x&limit=-1", headers={"Accept": "application/json"})
    assert_error(r, 400, "limit")


# ------------------------------------------------------------------------------ articles


def test_get_article_by_id_and_by_uid(client):
    by_uid = client.get(f"/api/articles/{SEED_UID}").get_json()
    assert set(by_uid) == {"ok", "article"} and by_uid["ok"] is True
    a = by_uid["article"]
    assert a["uid"] == SEED_UID and a["title"].startswith("Top Iranian officials")
    assert set(
        "id uid title source author url published_at language ingested_at extra body passages thread".split()
    ) == set(a)
    assert a["published_at"].startswith("2022-06-09")
    by_id = client.get(f"/api/articles/{a['id']}").get_json()
    assert by_id == by_uid
    # Passages tile the body: contiguous, non-overlapping, first at 0, last at the end.
    passages = a["passages"]
    assert len(passages) > 1 and passages[0]["start"] == 0 and passages[-1]["end"] == len(a["body"])
    assert all(p["end"] == q["start"] for p, q in itertools.pairwise(passages))


def test_search_result_passage_offsets_point_into_the_body(client):
    results = client.get("/api/search", query_string={"q": QUERY, "limit": 100}).get_json()["results"]
    for result in results:
        body = client.get(f"/api/articles/{result['id']}").get_json()["article"]["body"]
        # `passage` is display text: the body slice with every whitespace run (line breaks too) one space
        assert " ".join(body[result["passage_start"] : result["passage_end"]].split()) == result["passage"]
        assert "\n" not in result["passage"] and "  " not in result["passage"]
        for start, end in result["highlights"]:
            assert result["passage"][start:end].lower()[:4] in QUERY.lower()


@pytest.mark.parametrize("key", ["999999", "no-such-uid", "x" * 600])
def test_unknown_article_is_404(client, key):
    assert_error(client.get(f"/api/articles/{key}"), 404)
    assert_error(client.get(f"/api/articles/{key}/related"), 404)


def test_related_coverage(client):
    r = client.get(f"/api/articles/{SEED_UID}/related")
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) == {"ok", "article", "related"} and body["ok"] is True
    assert body["article"]["uid"] == SEED_UID
    related = body["related"]
    assert related, "the seed has related coverage in the fixture corpus"
    assert SEED_UID not in {item["uid"] for item in related}
    assert all({"id", "uid", "title", "published_at", "score"} <= set(item) for item in related)
    scores = [item["score"] for item in related]
    assert scores == sorted(scores, reverse=True)
    assert related[0]["uid"] == "wire-003"  # the IAEA monitoring story is the closest
    limited = client.get(f"/api/articles/{SEED_UID}/related?limit=2").get_json()["related"]
    assert [i["uid"] for i in limited] == [i["uid"] for i in related[:2]]


@pytest.mark.parametrize("value", ["0", "-3", "51", "many"])
def test_related_bad_limit_is_400(client, value):
    assert_error(client.get(f"/api/articles/{SEED_UID}/related?limit={value}"), 400, "limit")


def test_unknown_api_path_is_json_404(client):
    assert_error(client.get("/api/nothing-here"), 404)


def test_wrong_method_is_json_405_with_allow(client):
    r = client.put(f"/api/articles/{SEED_UID}", json={})
    assert_error(r, 405)
    assert "GET" in r.headers["Allow"]
    assert_error(client.post("/api/search"), 405)


# ------------------------------------------------------------------------------ health and openapi


def test_health(client, seeded_archive):
    r = client.get("/api/health")
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) == {"ok", "articles", "chunks", "vectors", "model", "encoder", "index_type", "pending_vectors"}
    assert body["ok"] is True and body["articles"] == 13 and body["pending_vectors"] == 0
    assert body["chunks"] == body["vectors"] >= 13
    assert "MiniLM" in body["model"] and body["index_type"]


def test_openapi_is_served(client):
    r = client.get("/api/openapi.json")
    assert r.status_code == 200 and r.get_json()["openapi"].startswith("3.1")


# ------------------------------------------------------------------------------ writes: authentication


def test_writes_refused_when_no_key_configured(archive):
    from archive.web import create_app

    client = create_app(archive=archive).test_client()  # the archive's settings have no api_key
    body = assert_error(client.post("/api/articles", json=article("a1", "Some text here."), headers=AUTH), 403)
    assert "ARCHIVE_API_KEY" in body["error"]
    assert_error(client.delete("/api/articles/a1", headers=AUTH), 403)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": "Bearer "},
        {"Authorization": KEY},
        {"Authorization": f"Bearer {KEY}x"},
    ],
)
def test_writes_need_the_right_key(write_client, headers):
    r = write_client.post("/api/articles", json=article("a1", "Some text here."), headers=headers)
    assert_error(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(write_client.delete("/api/articles/a1", headers=headers), 401)


def test_key_is_compared_in_constant_time(write_client, monkeypatch):
    from archive.web import security

    calls = []
    real = security.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    write_client.delete("/api/articles/nothing", headers={"Authorization": "Bearer guess"})
    assert calls == [(b"guess", KEY.encode())]


# ------------------------------------------------------------------------------ writes: ingest and delete


def test_post_one_article_then_read_search_and_delete_it(write_client):
    r = write_client.post(
        "/api/articles", json=article("t-1", "Volcanic ash grounded flights across the region today."), headers=AUTH
    )
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["ok"] is True and body["added"] == 1 and body["failed"] == 0 and body["duplicates"] == 0
    assert body["items"] == [{"origin": "articles[0]", "result": "stored", "uid": "t-1"}]
    got = write_client.get("/api/articles/t-1").get_json()["article"]
    assert got["source"] == "Test Wire" and got["published_at"].startswith("2024-03-01")
    found = write_client.get("/api/search?q=volcanic+ash").get_json()
    assert found["results"][0]["uid"] == "t-1"

    again = write_client.post(
        "/api/articles", json=article("t-1", "Volcanic ash grounded flights across the region today."), headers=AUTH
    )
    assert again.status_code == 200
    assert again.get_json()["duplicates"] == 1 and again.get_json()["added"] == 0
    assert again.get_json()["items"][0] == {"origin": "articles[0]", "result": "duplicate", "duplicate_of": "t-1"}

    gone = write_client.delete("/api/articles/t-1", headers=AUTH)
    assert gone.status_code == 200
    assert gone.get_json() == {"ok": True, "deleted": {"id": got["id"], "uid": "t-1"}}
    assert_error(write_client.get("/api/articles/t-1"), 404)
    assert_error(write_client.delete("/api/articles/t-1", headers=AUTH), 404)
    assert write_client.get("/api/search?q=volcanic+ash&mode=keyword").get_json()["total"] == 0


def test_post_list_and_wrapped_forms_report_each_record(write_client):
    records = [
        article("m-1", "Miners reached the trapped crew after two days."),
        {"title": "No body at all"},
        "not an object",
        article("m-2", "The harbour reopened after the storm passed."),
    ]
    r = write_client.post("/api/articles", json={"articles": records}, headers=AUTH)
    assert r.status_code == 201
    body = r.get_json()
    assert (body["added"], body["failed"], body["duplicates"]) == (2, 2, 0)
    assert [i["result"] for i in body["items"]] == ["stored", "failed", "failed", "stored"]
    assert {f["origin"] for f in body["failures"]} == {"articles[1]", "articles[2]"}
    assert all(f["reason"] for f in body["failures"])
    plain_list = write_client.post(
        "/api/articles", json=[article("m-3", "A new bridge opened to traffic.")], headers=AUTH
    )
    assert plain_list.status_code == 201 and plain_list.get_json()["added"] == 1


def test_a_date_not_understood_is_a_warning_on_its_item(write_client):
    records = [
        article("w-1", "Cranes stood idle at the port.", date="2026-13-01"),
        article("w-2", "Barges sailed again on the river.", date="2026-03-01"),
    ]
    r = write_client.post("/api/articles", json=records, headers=AUTH)
    assert r.status_code == 201
    body = r.get_json()
    first, second = body["items"]
    assert first["result"] == "stored" and "'2026-13-01' is not a date" in first["warnings"][0]
    assert "warnings" not in second
    assert body["undated"] == [{"origin": "articles[0]", "published_at": "2026-13-01"}]
    stored = write_client.get("/api/articles/w-1").get_json()["article"]
    assert stored["published_at"] is None and stored["extra"] == {"date_raw": "2026-13-01"}
    assert write_client.get("/api/articles/w-2").get_json()["article"]["published_at"].startswith("2026-03-01")


def test_post_same_id_new_text_is_an_update(write_client):
    write_client.post("/api/articles", json=article("u-1", "First version of the story."), headers=AUTH)
    r = write_client.post("/api/articles", json=article("u-1", "Second, corrected version of the story."), headers=AUTH)
    assert r.status_code == 200
    assert (r.get_json()["updated"], r.get_json()["added"]) == (1, 0)
    assert "corrected" in write_client.get("/api/articles/u-1").get_json()["article"]["body"]


def test_uid_with_slashes_is_addressable(write_client):
    url = "https://news.example/2024/03/story"
    record = {"title": "Slash uid", "text": "A story known only by its URL.", "url": url}
    assert write_client.post("/api/articles", json=record, headers=AUTH).status_code == 201
    got = write_client.get(f"/api/articles/{quote(url, safe='')}").get_json()["article"]
    assert got["uid"] == url
    assert write_client.get(f"/api/articles/{quote(url, safe='')}/related").status_code == 200


def test_post_where_nothing_can_be_stored_is_422(write_client):
    r = write_client.post("/api/articles", json=[{"title": "empty", "text": "   "}], headers=AUTH)
    assert r.status_code == 422
    body = r.get_json()
    assert body["ok"] is False and body["status"] == 422 and body["error"]
    assert body["failed"] == 1 and body["failures"][0]["origin"] == "articles[0]"


@pytest.mark.parametrize("data", [b"{not json", b"", b"   ", b"42", b'"text"', b"[]", b'{"articles": []}', b"[1, 2"])
def test_malformed_body_is_400(write_client, data):
    r = write_client.post("/api/articles", data=data, headers={**AUTH, "Content-Type": "application/json"})
    assert_error(r, 400, "body")


def test_oversized_body_is_413(archive):
    from archive.web import create_app

    app = create_app(settings=archive.settings.with_(api_key=KEY, max_body_bytes=2_000), archive=archive)
    client = app.test_client()
    big = json.dumps(article("big", "word " * 1_000))
    r = client.post("/api/articles", data=big, headers={**AUTH, "Content-Type": "application/json"})
    body = assert_error(r, 413)
    assert "2000" in body["error"]
    small = client.post("/api/articles", json=article("small", "Just a few words."), headers=AUTH)
    assert small.status_code == 201


# ------------------------------------------------------------------------------ rate limit


@pytest.fixture
def limited_client(seeded_archive):
    """Read-only client over the seeded archive with a 3 requests/minute limit."""
    from archive.web import create_app

    app = create_app(settings=seeded_archive.settings.with_(rate_limit="3/minute"), archive=seeded_archive)
    return app.test_client()


def test_rate_limit_429_with_retry_after(limited_client):
    remaining = []
    for _ in range(3):
        r = limited_client.get("/api/health")
        assert r.status_code == 200
        assert r.headers["X-RateLimit-Limit"] == "3"
        remaining.append(int(r.headers["X-RateLimit-Remaining"]))
    assert remaining == [2, 1, 0]
    r = limited_client.get("/api/search?q=iran")
    body = assert_error(r, 429)
    assert "rate limit" in body["error"]
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    # JSON from /search counts too; the HTML site does not.
    assert_error(limited_client.get("/search?q=iran&format=json"), 429)
    assert limited_client.get("/search?q=iran").status_code == 200
    # Another client address has its own allowance.
    other = limited_client.get("/api/health", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 200


def test_rate_limit_off_sends_no_headers(client):
    r = client.get("/api/health")
    assert r.status_code == 200 and "X-RateLimit-Limit" not in r.headers


def test_bad_rate_limit_setting_fails_at_startup(seeded_archive):
    from archive.errors import ArchiveError
    from archive.web import create_app

    with pytest.raises(ArchiveError, match="rate limit"):
        create_app(settings=seeded_archive.settings.with_(rate_limit="lots"), archive=seeded_archive)


@pytest.mark.parametrize(
    "spec,expected",
    [
        ("120/minute", (120, 60.0)),
        ("10/second", (10, 1.0)),
        ("1000/hour", (1000, 3600.0)),
        ("5/10s", (5, 10.0)),
        ("50 per day", (50, 86400.0)),
        ("7/minutes", (7, 60.0)),
        ("3/2m", (3, 120.0)),
    ],
)
def test_parse_rate(spec, expected):
    from archive.web.ratelimit import parse_rate

    rate = parse_rate(spec)
    assert (rate.requests, rate.seconds) == expected


@pytest.mark.parametrize("spec", ["off", "OFF", "", "0", "none"])
def test_parse_rate_off(spec):
    from archive.web.ratelimit import parse_rate

    assert parse_rate(spec) is None


@pytest.mark.parametrize("spec", ["fast", "10/fortnight", "-1/minute", "0/minute", "10"])
def test_parse_rate_rejects_nonsense(spec):
    from archive.errors import ArchiveError
    from archive.web.ratelimit import parse_rate

    with pytest.raises(ArchiveError):
        parse_rate(spec)


def test_token_bucket_refills_over_time():
    from archive.web.ratelimit import Rate, RateLimiter

    now = [1000.0]
    limiter = RateLimiter(Rate(2, 60.0), clock=lambda: now[0])
    assert [limiter.hit("a").allowed for _ in range(3)] == [True, True, False]
    assert limiter.hit("a").retry_after == 30
    now[0] += 30
    assert limiter.hit("a").allowed and not limiter.hit("a").allowed
    assert limiter.hit("b").allowed  # per key


def test_token_bucket_is_thread_safe():
    from archive.web.ratelimit import Rate, RateLimiter

    limiter = RateLimiter(Rate(100, 3600.0), clock=lambda: 0.0)
    allowed = []

    def worker():
        allowed.extend(limiter.hit("same-client").allowed for _ in range(50))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 100 and len(allowed) == 400


def test_limiter_forgets_idle_clients(monkeypatch):
    import archive.web.ratelimit as rl

    monkeypatch.setattr(rl, "MAX_CLIENTS", 10)
    now = [0.0]
    limiter = rl.RateLimiter(rl.Rate(5, 1.0), clock=lambda: now[0])
    for i in range(10):
        limiter.hit(f"c{i}")
    now[0] += 5
    limiter.hit("new")
    assert len(limiter._buckets) == 1


# ------------------------------------------------------------------------------ fuzzing the parameters

PARAMS = ("limit", "offset", "mode", "sort", "after", "before", "source", "author")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(PARAMS), value=st.text(max_size=30))
def test_any_parameter_value_is_200_or_a_400_naming_it(app, name, value):
    r = app.test_client().get("/api/search", query_string={name: value})
    body = r.get_json()
    assert r.status_code in (200, 400), body
    if r.status_code == 400:
        assert body == {"ok": False, "error": body["error"], "status": 400, "param": name}
    else:
        assert body["ok"] is True


def test_post_with_a_repeated_id_answers_each_item_never_500(write_client):
    """Issue 15 item 1: one POST naming an id twice (different texts) stores the later one as an update."""
    records = [
        article("rep-1", "The council approved the new budget on Tuesday."),
        article("rep-1", "The council rejected the new budget on Tuesday."),
        article("rep-2", "Rain is expected over the weekend."),
    ]
    r = write_client.post("/api/articles", json=records, headers=AUTH)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["added"], body["updated"], body["failed"]) == (2, 1, 0)
    assert [i["result"] for i in body["items"]] == ["stored", "stored", "stored"]
    assert "rejected" in write_client.get("/api/articles/rep-1").get_json()["article"]["body"]


# ------------------------------------------------------------------------------ issue 15 item 9


def test_an_id_longer_than_a_key_can_be_is_refused_per_item(write_client):
    from archive.limits import MAX_KEY_CHARS

    long_id = "x" * 600
    records = [article(long_id, "A story nobody could ever read back."), article("short", "A story with a fine id.")]
    r = write_client.post("/api/articles", json=records, headers=AUTH)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["added"], body["failed"]) == (1, 1)
    assert body["items"][0]["result"] == "failed" and body["items"][1]["result"] == "stored"
    reason = body["items"][0]["reason"]
    assert "600" in reason and str(MAX_KEY_CHARS) in reason
    only = write_client.post("/api/articles", json=article("y" * 600, "Another unreachable one."), headers=AUTH)
    assert only.status_code == 422


def test_a_url_longer_than_a_key_falls_back_to_a_content_uid(write_client):
    url = "https://news.example/story?" + "utm=1&" * 120
    r = write_client.post(
        "/api/articles", json={"title": "t", "text": "Known only by a long URL.", "url": url}, headers=AUTH
    )
    assert r.status_code == 201, r.get_json()
    uid = r.get_json()["items"][0]["uid"]
    assert uid.startswith("sha256:")
    got = write_client.get(f"/api/articles/{uid}").get_json()["article"]
    assert got["url"] == url
    assert write_client.delete(f"/api/articles/{uid}", headers=AUTH).status_code == 200


@pytest.mark.parametrize("param", ["mode", "sort", "limit", "offset"])
def test_an_empty_enum_or_number_parameter_is_400_naming_it(client, param):
    for path, extra in (("/api/search", {}), ("/search", {"format": "json"})):
        body = assert_error(client.get(path, query_string={"q": QUERY, param: "", **extra}), 400, param)
        assert "empty" in body["error"]
    assert_error(client.get(f"/api/articles/{SEED_UID}/related?limit="), 400, "limit")


@pytest.mark.parametrize("param", ["after", "before", "source", "author"])
def test_an_empty_filter_is_no_filter(client, param):
    body = client.get("/api/search", query_string={"q": QUERY, param: ""}).get_json()
    assert body["ok"] is True and body["results"][0]["uid"] == SEED_UID


def test_related_allows_only_get(client, write_client):
    for method in ("put", "post", "delete", "patch"):
        r = getattr(client, method)(f"/api/articles/{SEED_UID}/related", headers=AUTH)
        assert_error(r, 405)
        assert set(r.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}, method
    write_client.post("/api/articles", json=article("keep", "This article must survive."), headers=AUTH)
    assert_error(write_client.delete("/api/articles/keep/related", headers=AUTH), 405)
    assert write_client.get("/api/articles/keep").status_code == 200


def test_fields_of_the_wrong_json_type_fail_their_record(write_client):
    """Found by schemathesis: `language: {}` was silently dropped; a documented field of another type fails its record."""
    r = write_client.post(
        "/api/articles", json={"articles": [{"text": "Tin prices fell.", "language": {}}]}, headers=AUTH
    )
    assert r.status_code == 422
    assert "language (dict)" in r.get_json()["items"][0]["reason"]
    r = write_client.post("/api/articles", json={"text": "Tin prices rose.", "author": ["A. Writer", 3]}, headers=AUTH)
    assert r.status_code == 422 and "author (list)" in r.get_json()["failures"][0]["reason"]


def test_other_methods_on_the_cite_route_are_405_not_an_article_delete(write_client):
    """Found by schemathesis: DELETE /api/articles/<id>/cite reached the article DELETE route."""
    write_client.post("/api/articles", json=article("kept", "A story to cite."), headers=AUTH)
    assert_error(write_client.delete("/api/articles/kept/cite", headers=AUTH), 405)
    assert write_client.get("/api/articles/kept").status_code == 200


def test_an_empty_id_fails_its_record_and_null_fields_are_absent(write_client):
    """Found by schemathesis: id "" was stored under a derived uid, so the id sent could not fetch it back."""
    r = write_client.post("/api/articles", json={"id": "", "text": "Zinc output rose."}, headers=AUTH)
    assert r.status_code == 422 and "id (empty)" in r.get_json()["failures"][0]["reason"]
    r = write_client.post("/api/articles", json={"id": "z-1", "text": "Zinc output fell.", "url": None}, headers=AUTH)
    assert r.status_code == 201
