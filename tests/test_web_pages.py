"""The HTML site: search page, article page, empty state, escaping, accessibility basics and security headers."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import SEED_UID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
QUERY = "Iran camera disconnection"


class Page(HTMLParser):
    """Tags with their attributes, plus the text inside chosen elements."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        """Attributes of every `tag` whose attributes contain the given values (class matches one class)."""
        out = []
        for name, a in self.tags:
            if name != tag:
                continue
            ok = True
            for key, value in attrs.items():
                key = key.rstrip("_")
                if key == "class":
                    ok &= value in (a.get("class") or "").split()
                else:
                    ok &= a.get(key) == value
            if ok:
                out.append(a)
        return out

    @property
    def all_text(self) -> str:
        return " ".join(self.text)


def get_page(client, url: str, status: int = 200) -> tuple[str, Page]:
    r = client.get(url)
    assert r.status_code == status, r.get_data(as_text=True)[:500]
    assert r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    return html, Page(html)


def result_links(page: Page) -> list[str]:
    return [a["href"] for a in page.find("a") if (a.get("href") or "").startswith("/articles/")]


# ------------------------------------------------------------------------------ search page


def test_home_page_has_a_labelled_search_box(client):
    _, page = get_page(client, "/")
    (box,) = page.find("input", id="q")
    assert box["name"] == "q" and box["type"] == "search"
    assert page.find("label", for_="q")
    assert page.find("form", role="search")
    assert "13 articles" in page.all_text


def test_search_results_keep_query_and_show_the_seed_first(client, seeded_archive):
    html, page = get_page(client, "/search?q=Iran+camera+disconnection")
    (box,) = page.find("input", id="q")
    assert box["value"] == QUERY
    assert "checked" in page.find("input", id="mode-hybrid")[0]
    first = result_links(page)[0]
    parts = urlsplit(first)
    seed = client.get(f"/api/articles/{SEED_UID}").get_json()["article"]
    assert parts.path == f"/articles/{seed['id']}"
    assert parse_qs(parts.query)["q"] == [QUERY]
    assert re.fullmatch(r"passage-\d+", parts.fragment)
    assert parse_qs(parts.query)["p"] == [parts.fragment.split("-")[1]]
    first_passage = html.split('class="passage"', 1)[1].split("</p>", 1)[0]
    assert "<mark>" in first_passage
    assert "Why it matched: contains Iran, camera, disconnection · close in meaning" in " ".join(page.all_text.split())
    assert "13 stories match" in page.all_text


def test_mode_and_sort_round_trip(client):
    _, page = get_page(client, "/search?q=oil&mode=keyword&sort=newest")
    assert "checked" in page.find("input", id="mode-keyword")[0]
    assert "selected" in page.find("option", value="newest")[0]
    assert "Why it matched: contains oil" in " ".join(page.all_text.split())


def test_facets_narrow_the_search(client):
    _, page = get_page(client, "/search?q=Iran+camera+disconnection")
    source_links = [a["href"] for a in page.find("a") if "source=" in (a.get("href") or "")]
    wire = next(h for h in source_links if "Global+Wire" in h or "Global%20Wire" in h)
    assert parse_qs(urlsplit(wire).query)["q"] == [QUERY]
    narrowed = client.get(wire, headers={"Accept": "application/json"}).get_json()
    assert narrowed["results"] and {r["source"] for r in narrowed["results"]} == {"Global Wire"}
    _, narrowed_page = get_page(client, wire)
    assert narrowed_page.find("a", class_="is-active")  # the chosen facet is marked and un-selectable
    assert narrowed_page.find("a", class_="chip-remove")


def test_timeline_is_inline_svg_with_links_to_each_period(client):
    html, page = get_page(client, "/search?q=Iran+camera+disconnection")
    assert page.find("svg", class_="timeline-wide") and page.find("svg", class_="timeline-narrow")
    assert page.find("title", id="timeline-title-wide") and page.find("title", id="timeline-title-narrow")
    wide = html.split('class="timeline-chart timeline-wide"', 1)[1].split("</svg>", 1)[0]
    assert wide.count('class="bar"') == 3  # 2021, 2022, 2023 in the fixture corpus: yearly bars
    year_links = [a["href"] for a in page.find("a", class_="timeline-bar")]
    assert any("after=2022-01-01" in h and "before=2023-01-01" in h for h in year_links)
    assert "Matching articles per year" in page.all_text
    assert "<script" not in html


def test_clicking_a_year_bar_narrows_to_it_and_draws_its_months(client):
    _, page = get_page(client, "/search?q=Iran+camera+disconnection")
    year = next(a["href"] for a in page.find("a", class_="timeline-bar") if "after=2022-01-01" in a["href"])
    narrowed = client.get(year, headers={"Accept": "application/json"}).get_json()
    assert narrowed["date_bucket"] == "month"
    assert {r["published_at"][:4] for r in narrowed["results"]} == {"2022"}
    _html, page = get_page(client, year)
    assert "Matching articles per month" in page.all_text
    months = [a["href"] for a in page.find("a", class_="timeline-bar")]
    assert months and all(re.search(r"after=2022-\d\d-01&before=2022-\d\d-01|before=2023-01-01", h) for h in months)


def test_date_filter_and_year_facet(client):
    html, page = get_page(client, "/search?q=Iran+camera+disconnection&after=2022-01-01&before=2023-01-01")
    assert page.find("input", id="f-after")[0]["value"] == "2022-01-01"
    assert "From: 1 January 2022" in " ".join(page.all_text.split())
    assert "Before: 1 January 2023" in " ".join(page.all_text.split())
    years = re.findall(r'<time datetime="(\d{4})', html)
    assert years and set(years) == {"2022"}


def test_pagination(client):
    _, page = get_page(client, "/search?q=Iran+camera+disconnection&limit=5")
    assert len(page.find("nav", class_="pagination")) == 1
    (next_link,) = page.find("a", rel="next")
    assert parse_qs(urlsplit(next_link["href"]).query)["offset"] == ["5"]
    assert parse_qs(urlsplit(next_link["href"]).query)["limit"] == ["5"]
    _, page2 = get_page(client, next_link["href"])
    assert page2.find("ol", class_="results")[0]["start"] == "6"
    assert page2.find("span", class_="page-current")[0]["aria-current"] == "page"
    assert "page 2 of 3" in page2.all_text
    assert not set(result_links(page)) & set(result_links(page2))
    assert page2.find("a", rel="prev")


def test_empty_state_is_honest_and_helpful(client):
    _, page = get_page(client, "/search?q=zzqxv+wqqz&mode=keyword&source=Global+Wire")
    assert "No articles match" in page.all_text
    hrefs = [a["href"] for a in page.find("a")]
    assert any("mode=" not in h and "q=zzqxv" in h for h in hrefs)  # "search by meaning as well (hybrid)"
    assert any("source=" not in h and "q=zzqxv" in h for h in hrefs)  # "remove the source filter"
    assert not page.find("ol", class_="results")


def suggestions(html: str) -> list[tuple[str, str]]:
    """(text, href) of the empty page's ways out."""
    found = re.search(r'<ul class="suggestions">(.*?)</ul>', html, re.S)
    return (
        [(text, href.replace("&amp;", "&")) for href, text in re.findall(r'<a href="([^"]+)">([^<]+)</a>', found[1])]
        if found
        else []
    )


def test_each_way_out_of_an_empty_page_says_what_it_finds_and_none_leads_nowhere(client):
    """Each suggestion is counted by running it; one that finds nothing is left out."""
    everywhere = client.get("/api/search?q=Iran&mode=keyword").get_json()["total"]
    html, _ = get_page(client, "/search?q=Iran&mode=keyword&source=Example+Times")  # no Example Times story names Iran
    assert everywhere > 0 and "No articles match" in html
    ways = suggestions(html)
    label = f"Remove the source filter (Example Times): {everywhere:,} {'result' if everywhere == 1 else 'results'}"
    assert label in [text for text, _ in ways]
    href = dict(ways)[label]
    assert "source=" not in href and "q=Iran" in href and "mode=keyword" in href
    assert client.get(href.replace("/search", "/api/search")).get_json()["total"] == everywhere
    # a word no story holds: keyword mode finds nothing anywhere, so neither way out that keeps the word is offered
    html, _ = get_page(client, "/search?q=zzqxv&mode=keyword&source=Global+Wire")
    assert not any(text.startswith("Remove the source filter") for text, _ in suggestions(html))


def test_page_past_the_end(client):
    _, page = get_page(client, "/search?q=Iran&offset=500")
    assert "past the last result" in page.all_text


def test_bad_parameter_on_the_page_is_400_with_the_form_kept(client):
    _, page = get_page(client, "/search?q=Iran&after=yesterday", status=400)
    assert page.find("div", role="alert")
    assert "after" in page.all_text
    assert page.find("input", id="q")[0]["value"] == "Iran"


# ------------------------------------------------------------------------------ article page


def test_article_page_anchors_and_highlights_the_matched_passage(client):
    seed = client.get(f"/api/articles/{SEED_UID}").get_json()["article"]
    html, page = get_page(client, f"/articles/{seed['id']}?q=Iran+camera+disconnection&p=1")
    ids = [s["id"] for s in page.find("section", class_="passage-block")]
    assert ids == [f"passage-{p['seq']}" for p in seed["passages"]]
    (matched,) = page.find("section", class_="is-match")
    assert matched["id"] == "passage-1"
    block = html.split('id="passage-1"', 1)[1].split("</section>", 1)[0]
    assert "<mark>" in block and "Matched passage" in block
    assert page.find("h1", id="story-title")
    assert "9 June 2022" in page.all_text


def test_article_page_text_is_the_whole_body(client):
    seed = client.get(f"/api/articles/{SEED_UID}").get_json()["article"]
    _, page = get_page(client, f"/articles/{SEED_UID}")
    shown = " ".join(page.all_text.split())
    for paragraph in seed["body"].split("\n"):
        assert " ".join(paragraph.split()) in shown
    assert not page.find("section", class_="is-match") and not page.find("mark")


def test_article_page_lists_related_coverage_with_dates(client):
    html, page = get_page(client, f"/articles/{SEED_UID}")
    assert len(page.find("ol", class_="related-list")) == 1
    section = html.split('class="related-list"', 1)[1].split("</ol>", 1)[0]
    assert "IAEA chief warns of gaps in Iran monitoring" in section
    assert "13 June 2022" in section and "<time" in section


def test_original_link_is_safe(client):
    _, page = get_page(client, "/articles/wire-001")
    (link,) = page.find("a", class_="original-link")
    assert link["href"] == "https://example.org/oil-opec-cut"
    assert set(link["rel"].split()) == {"noopener", "noreferrer"}


def test_javascript_urls_are_never_links(archive):
    from archive.documents import Article
    from archive.web import create_app
    from archive.write import ingest

    ingest(
        archive, [Article(title="Bad link", body="A story with a hostile link.", uid="js-1", url="javascript:alert(1)")]
    )
    html = create_app(archive=archive).test_client().get("/articles/js-1").get_data(as_text=True)
    assert "javascript:" not in html.split("<main", 1)[1].split("Details", 1)[0].replace("javascript:alert(1)</dd>", "")
    assert not Page(html).find("a", class_="original-link")


def test_unknown_article_page_is_404_html(client):
    _, page = get_page(client, "/articles/does-not-exist", status=404)
    assert "Not found" in page.all_text


# ------------------------------------------------------------------------------ safety


def test_xss_payloads_render_as_text(client):
    for url in ("/search?q=harbour+festival", "/articles/xss-001"):
        html, page = get_page(client, url)
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>Bold" not in html
        assert (
            "&lt;script&gt;alert(&#39;title-xss&#39;)&lt;/script&gt;" in html
            or "&lt;script&gt;alert(&#x27;title-xss&#x27;)&lt;/script&gt;" in html
        )
        assert "<script>alert('title-xss')</script>" in page.all_text  # visible as text
        assert not page.find("img") and not page.find("script")


def test_only_passage_html_is_marked_safe_in_templates():
    uses = []
    for path in (ROOT / "templates").glob("*.html"):
        uses += [(path.name, m) for m in re.findall(r"[\w.\]\)]+\s*\|\s*safe\b", path.read_text())]
    assert uses == [("search.html", "r.passage_html|safe")]


@pytest.mark.parametrize(
    "url", ["/", "/search?q=Iran", f"/articles/{SEED_UID}?q=Iran&p=0", "/articles/nope", "/search?q=x&limit=-1"]
)
def test_no_inline_script_style_or_handlers(client, url):
    html = client.get(url).get_data(as_text=True)
    page = Page(html)
    assert not page.find("script") and not page.find("style")
    for tag, attrs in page.tags:
        assert "style" not in attrs, tag
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/search?q=Iran",
        f"/articles/{SEED_UID}",
        "/api/health",
        "/api/search?limit=-1",
        "/static/style.css",
        "/api/nothing",
        "/articles/nope",
    ],
)
def test_security_headers_everywhere(client, url):
    r = client.get(url)
    r.close()
    csp = r.headers["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] in ("no-referrer", "strict-origin-when-cross-origin")
    assert r.headers["X-Frame-Options"] == "DENY"


def test_stylesheet_is_served(client):
    with client.get("/static/style.css") as r:
        assert r.status_code == 200 and r.mimetype == "text/css"
        assert "@media" in r.get_data(as_text=True)  # responsive rules for phones


# ------------------------------------------------------------------------------ accessibility basics


@pytest.mark.parametrize("url", ["/", "/search?q=Iran+camera+disconnection&limit=5", f"/articles/{SEED_UID}"])
def test_one_h1_labelled_controls_and_landmarks(client, url):
    _, page = get_page(client, url)
    assert len(page.find("h1")) == 1
    assert len(page.find("main")) == 1
    labels = {a.get("for") for a in page.find("label")}
    for tag in ("input", "select"):
        for control in page.find(tag):
            if control.get("type") not in ("hidden", "submit"):
                assert control.get("id") in labels, control
    assert page.find("a", class_="skip-link")
    html_tag = page.tags[0]
    assert html_tag == ("html", {"lang": "en"})


# ------------------------------------------------------------------------------ pure helpers


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(q=st.text(max_size=60), source=st.text(max_size=20))
def test_any_query_renders_escaped(app, q, source):
    r = app.test_client().get("/search", query_string={"q": q, "mode": "keyword", "source": source})
    assert r.status_code in (200, 400)
    html = r.get_data(as_text=True)
    assert "<script" not in html
    page = Page(html)
    if "\x00" not in q and "\r" not in q:  # HTML parsers normalise these; everything else round-trips
        assert page.find("input", id="q")[0]["value"] == q
