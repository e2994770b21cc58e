"""The journalist's desk in the API: next/prev and took_ms, unknown parameters, CORS, export and citation."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import SEED_UID

pytestmark = pytest.mark.integration

QUERY = "Iran camera disconnection"
ORIGIN = "https://desk.example.org"


@pytest.fixture(scope="module")
def cors_app(seeded_archive):
    from archive.web import create_app

    app = create_app(
        settings=seeded_archive.settings.with_(cors_origins=f"{ORIGIN}, https://other.example/"), archive=seeded_archive
    )
    app.config.update(TESTING=True)
    return app


# ------------------------------------------------------------------------------ paging links and timing


def test_next_and_prev_walk_every_page_once(client):
    first = client.get("/api/search", query_string={"q": QUERY, "limit": 5}).get_json()
    assert first["prev"] is None and isinstance(first["took_ms"], (int, float)) and first["took_ms"] >= 0
    seen, page, pages = [], first, 0
    while True:
        seen += [r["id"] for r in page["results"]]
        pages += 1
        if page["next"] is None:
            break
        assert urlsplit(page["next"]).path == "/api/search"
        assert parse_qs(urlsplit(page["next"]).query)["q"] == [QUERY]
        following = client.get(page["next"]).get_json()
        assert client.get(following["prev"]).get_json()["results"] == page["results"]
        page = following
    assert len(seen) == len(set(seen)) == first["total"] and pages == -(-first["total"] // 5)


def test_next_keeps_the_other_parameters_and_the_clamped_limit(client):
    body = client.get(
        "/search", query_string={"q": QUERY, "format": "json", "limit": 500, "mode": "keyword"}
    ).get_json()
    assert body["next"] is None  # 2 keyword matches fit on one page
    body = client.get(
        "/search", query_string={"q": "news", "format": "json", "limit": 1, "mode": "semantic"}
    ).get_json()
    query = parse_qs(urlsplit(body["next"]).query)
    assert urlsplit(body["next"]).path == "/search"
    assert query == {"q": ["news"], "format": ["json"], "mode": ["semantic"], "limit": ["1"], "offset": ["1"]}


def test_prev_from_past_the_end_goes_to_the_last_page(client):
    body = client.get("/api/search", query_string={"q": QUERY, "offset": 500}).get_json()
    assert body["results"] == [] and body["next"] is None
    last = parse_qs(urlsplit(body["prev"]).query)["offset"][0]
    assert int(last) == (body["total"] - 1) // 10 * 10


# ------------------------------------------------------------------------------ unknown parameters


@pytest.mark.parametrize(
    "url,param,endpoint",
    [
        ("/api/search?q=iran&page=2", "page", "api.search"),
        ("/api/search?q=iran&offest=10", "offest", "api.search"),
        ("/search?q=iran&format=json&size=5", "size", "pages.search_page"),
        ("/api/search/export?q=iran&offset=5", "offset", "api.export"),  # an export is the whole set: no paging
        (f"/api/articles/{SEED_UID}?q=iran", "q", "api.get_article"),
        (f"/api/articles/{SEED_UID}/related?offset=1", "offset", "api.related"),
        (f"/api/articles/{SEED_UID}/cite?style=apa", "style", "api.cite"),
    ],
)
def test_unknown_parameter_is_a_400_naming_it_and_the_valid_ones(client, url, param, endpoint):
    from archive.config import Settings
    from archive.web.params import accepted

    r = client.get(url)
    body = r.get_json()
    assert r.status_code == 400 and body["param"] == param and body["ok"] is False
    valid = ", ".join(accepted(endpoint, Settings().labels)) or "none"
    assert body["error"] == f"unknown parameter {param!r}; valid parameters: {valid}"


def test_the_html_pages_take_their_own_parameters(client):
    assert client.get("/search?q=iran&utm_source=mail").status_code == 200  # a browser's page is never refused
    article = client.get(f"/api/articles/{SEED_UID}").get_json()["article"]
    assert client.get(f"/articles/{article['id']}?q=iran&p=1").status_code == 200


# ------------------------------------------------------------------------------ CORS


def test_no_cors_headers_by_default(client):
    r = client.get("/api/search?q=iran", headers={"Origin": ORIGIN})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers
    pre = client.options("/api/search", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in pre.headers


def test_cors_answers_configured_origins_on_read_endpoints(cors_app):
    client = cors_app.test_client()
    for url in ("/api/search?q=iran", f"/api/articles/{SEED_UID}", "/search?q=iran&format=json", "/api/health"):
        r = client.get(url, headers={"Origin": ORIGIN})
        assert r.headers["Access-Control-Allow-Origin"] == ORIGIN, url
        assert "Origin" in r.headers["Vary"] and "X-RateLimit-Remaining" in r.headers["Access-Control-Expose-Headers"]
    other = client.get("/api/search?q=iran", headers={"Origin": "https://other.example"})
    assert other.headers["Access-Control-Allow-Origin"] == "https://other.example"  # a trailing / in the setting
    error = client.get("/api/search?q=iran&page=2", headers={"Origin": ORIGIN})
    assert error.status_code == 400 and error.headers["Access-Control-Allow-Origin"] == ORIGIN  # errors readable too
    for stranger in ("https://evil.example", "null", ORIGIN + ".evil.example"):
        assert (
            "Access-Control-Allow-Origin" not in client.get("/api/search?q=iran", headers={"Origin": stranger}).headers
        )
    page = client.get("/search?q=iran", headers={"Origin": ORIGIN, "Accept": "text/html"})
    assert page.mimetype == "text/html"


def test_preflight_for_reads_only(cors_app):
    client = cors_app.test_client()
    pre = client.options("/api/search", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert pre.headers["Access-Control-Allow-Methods"] == "GET, HEAD"
    assert "Access-Control-Allow-Headers" not in pre.headers  # no Authorization for reads
    for method, url in (("POST", "/api/articles"), ("DELETE", f"/api/articles/{SEED_UID}")):
        refused = client.options(url, headers={"Origin": ORIGIN, "Access-Control-Request-Method": method})
        assert "Access-Control-Allow-Origin" not in refused.headers, method
    stranger = client.options(
        "/api/search", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "Access-Control-Allow-Origin" not in stranger.headers


def test_writes_only_when_explicitly_configured(archive):
    from archive.web import create_app

    app = create_app(
        settings=archive.settings.with_(cors_origins=ORIGIN, cors_writes=True, api_key="k"), archive=archive
    )
    client = app.test_client()
    pre = client.options("/api/articles", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 204 and "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert pre.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    posted = client.post(
        "/api/articles", json={"text": "Words."}, headers={"Origin": ORIGIN, "Authorization": "Bearer k"}
    )
    assert posted.status_code == 201 and posted.headers["Access-Control-Allow-Origin"] == ORIGIN


# ------------------------------------------------------------------------------ export


def read_csv(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.mark.parametrize("q", ["oil", "prices inflation Iran storm", "Iran camera disconnection"])
def test_keyword_export_has_every_match_once(client, q):
    search = client.get("/api/search", query_string={"q": q, "mode": "keyword"}).get_json()
    r = client.get("/api/search/export", query_string={"q": q, "mode": "keyword", "format": "csv"})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.is_streamed
    rows = read_csv(r)
    assert len(rows) == search["total"] == int(r.headers["X-Total-Count"]) == int(r.headers["X-Export-Rows"])
    assert len({row["id"] for row in rows}) == len(rows) and r.headers["X-Export-Truncated"] == "false"
    assert [int(row["id"]) for row in rows[: len(search["results"])]] == [x["id"] for x in search["results"]]
    assert list(rows[0]) == "id uid title source author published_at url permalink score passage".split()
    assert r.headers["Content-Disposition"].startswith('attachment; filename="archive-')


def test_export_covers_more_than_a_page_and_follows_the_sort(client):
    q = {"q": "news report", "mode": "hybrid", "sort": "newest"}
    search = client.get("/api/search", query_string=q).get_json()
    assert search["total"] > search["limit"]
    lines = client.get("/api/search/export", query_string={**q, "format": "jsonl"}).get_data(as_text=True).splitlines()
    items = [json.loads(line) for line in lines]
    assert len(items) == search["total"]
    dates = [i["published_at"] for i in items if i["published_at"]]
    assert dates == sorted(dates, reverse=True)
    first = items[0]
    assert first["permalink"].startswith("http://localhost/articles/") and "#passage-" in first["permalink"]
    assert "\n" not in first["passage"]


def test_export_is_capped_by_the_setting(seeded_archive):
    from archive.web import create_app

    app = create_app(settings=seeded_archive.settings.with_(export_max=3, relevance_floor=-1), archive=seeded_archive)
    r = app.test_client().get("/api/search/export?q=news+report")
    assert len(read_csv(r)) == 3 and r.headers["X-Export-Truncated"] == "true" and int(r.headers["X-Total-Count"]) > 3


def test_export_cells_never_run_as_spreadsheet_formulas():
    from archive.web.downloads import csv_lines

    row = dict.fromkeys(("id", "uid", "source", "author", "published_at", "url", "permalink", "score"), None)
    text = "".join(csv_lines([{**row, "title": '=HYPERLINK("http://x")', "passage": "-1+2"}]))
    record = list(csv.reader(io.StringIO(text)))[1]
    assert record[2] == '\'=HYPERLINK("http://x")' and record[9] == "'-1+2"


def test_export_errors_are_json_400s(client):
    r = client.get("/api/search/export?q=iran&format=xlsx")
    assert r.status_code == 400 and r.get_json()["param"] == "format"
    assert client.get("/api/search/export?q=iran&after=soon").get_json()["param"] == "after"


# ------------------------------------------------------------------------------ citation


def test_cite_in_every_format_carries_the_article(client):
    seed = client.get(f"/api/articles/{SEED_UID}").get_json()["article"]
    for fmt, media in (
        ("ris", "application/x-research-info-systems"),
        ("bibtex", "application/x-bibtex"),
        ("csl-json", "application/vnd.citationstyles.csl+json"),
    ):
        r = client.get(f"/api/articles/{seed['id']}/cite", query_string={"format": fmt, "p": 1})
        assert r.status_code == 200 and r.mimetype == media, fmt
        text = r.get_data(as_text=True)
        assert f"http://localhost/articles/{seed['id']}#passage-1" in text, fmt
        assert "Top Iranian officials" in text and "2022" in text
        assert r.headers["Content-Disposition"].startswith("attachment")
    default = client.get(f"/api/articles/{SEED_UID}/cite")
    assert default.mimetype == "application/x-research-info-systems"
    assert f"/articles/{seed['id']}\n" in default.get_data(as_text=True)  # no p: the article as a whole


@pytest.mark.parametrize(
    "query,param",
    [("format=apa", "format"), ("p=99", "p"), ("p=-1", "p"), ("p=x", "p"), ("p=", "p"), ("format=", "format")],
)
def test_cite_bad_parameters_are_400s(client, query, param):
    r = client.get(f"/api/articles/{SEED_UID}/cite?{query}")
    assert r.status_code == 400 and r.get_json()["param"] == param


def test_cite_unknown_article_is_404(client):
    assert client.get("/api/articles/no-such-uid/cite").status_code == 404
