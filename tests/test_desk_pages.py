"""The desk on the site: a reflowed Reuters article, export and citation links, the timeline of a one-year archive."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.integration

WRAPPED = (
    "Showers continued throughout the week in\n"
    "the Bahia cocoa zone, alleviating the drought since early\n"
    "January and improving prospects for the coming temporao.\n"
    "    The dry period means the cocoa harvest will be late this year.\n"
    "    Arrivals for the week ended February 22 were 155,221 bags\n"
    "of 60 kilos making a cumulative total for the season of 5.93\n"
    "mln against 5.81 at the same stage last year.\n"
    "    Shr 34 cts vs 1.19 dlrs\n"
    "    Net 807,000 vs 2,858,000\n"
)


def page_text(html: str) -> str:
    """The page's text, tags out and whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


class Paragraphs(HTMLParser):
    """The text of every <p> inside the story body, and every link."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self.links: list[dict[str, str | None]] = []
        self._in_body = self._in_p = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and attrs.get("class") == "story-body":
            self._in_body = True
        elif tag == "aside":
            self._in_body = False
        elif tag == "p" and self._in_body and "match-label" not in (attrs.get("class") or ""):
            self._in_p = True
            self.paragraphs.append("")
        elif tag == "a":
            self.links.append(attrs)

    def handle_endtag(self, tag):
        if tag == "p":
            self._in_p = False

    def handle_data(self, data):
        if self._in_p:
            self.paragraphs[-1] += data


@pytest.fixture
def desk(archive):
    """An app over a hash-encoded archive holding one hard-wrapped story a month through 1987."""
    from archive.readers import article_from_record
    from archive.web import create_app
    from archive.write import ingest

    records = [
        {"id": "cocoa", "title": "BAHIA COCOA REVIEW", "text": WRAPPED, "source": "Reuters", "date": "1987-02-26"}
    ] + [
        {
            "id": f"cocoa-{m}",
            "title": f"Cocoa report {m}",
            "text": f"Cocoa arrivals in month {m} were\nreported by the board.\n    Prices held.",
            "source": "Reuters",
            "date": f"1987-{m:02d}-15",
        }
        for m in range(1, 13)
    ]
    report = ingest(archive, [article_from_record(r, f"r{i}") for i, r in enumerate(records)])
    assert report.added == 13
    app = create_app(archive=archive)
    app.config.update(TESTING=True)
    return app.test_client()


def test_reuters_article_reads_as_paragraphs_and_highlights_still_land(desk):
    body = desk.get("/api/articles/cocoa").get_json()["article"]["body"]
    html = desk.get("/articles/cocoa?q=drought+temporao&p=0").get_data(as_text=True)
    shown = Paragraphs(html).paragraphs
    assert shown[:2] == [
        "Showers continued throughout the week in the Bahia cocoa zone, alleviating the drought since early "
        "January and improving prospects for the coming temporao.",
        "The dry period means the cocoa harvest will be late this year.",
    ]
    assert "Shr 34 cts vs 1.19 dlrs" in shown and "Net 807,000 vs 2,858,000" in shown  # table rows stay rows
    for text in shown:  # each paragraph: a body slice with its line breaks made spaces
        pattern = r"\s+".join(re.escape(w) for w in text.split())
        assert re.search(pattern, body), text
    assert "<mark>drought</mark>" in html and "<mark>temporao</mark>" in html


def test_search_page_offers_the_export_of_every_result_and_a_citation(desk):
    html = desk.get("/search?q=cocoa&mode=keyword&sort=oldest&limit=5").get_data(as_text=True)
    links = [a.get("href") or "" for a in Paragraphs(html).links]
    exports = [h for h in links if h.startswith("/api/search/export")]
    assert len(exports) == 2
    query = parse_qs(urlsplit(exports[0]).query)
    assert query == {"format": ["csv"], "q": ["cocoa"], "mode": ["keyword"], "sort": ["oldest"]}  # no paging
    rows = desk.get(exports[0]).get_data(as_text=True).strip().splitlines()
    assert len(rows) == 1 + 13  # the header, then every match (not the 5 of this page)
    cites = [h for h in links if h.endswith("#cite")]
    assert len(cites) == 5 and all("p=" in h for h in cites)
    assert "Export all 13 results: <a " in html  # a space before the first link


def test_an_export_past_its_cap_is_labelled_as_the_first_rows(desk, archive):
    """The link says what the file holds: the first ARCHIVE_EXPORT_MAX rows, not "all" of a larger result."""
    from archive.web import create_app

    app = create_app(settings=archive.settings.with_(export_max=10), archive=archive)
    app.config.update(TESTING=True)
    client = app.test_client()
    html = client.get("/search?q=cocoa&mode=keyword").get_data(as_text=True)
    said = page_text(html)
    assert "Export the first 10 of 13 results" in said and "Export all" not in said
    assert "narrow the search for the rest): <a " in html
    exports = [h for h in (a.get("href") or "" for a in Paragraphs(html).links) if h.startswith("/api/search/export")]
    response = client.get(exports[0])
    assert len(response.get_data(as_text=True).strip().splitlines()) == 1 + 10
    assert response.headers["X-Export-Truncated"] == "true" and response.headers["X-Total-Count"] == "13"


def test_article_page_cites_the_matched_passage(desk):
    html = desk.get("/articles/cocoa?q=cocoa&p=0").get_data(as_text=True)
    links = [a.get("href") or "" for a in Paragraphs(html).links]
    assert "http://localhost/articles/1#passage-0" in links
    fragment = next(h for h in links if ":~:text=" in h)
    assert fragment.startswith("http://localhost/articles/1#passage-0:~:text=Showers%20continued")
    formats = [h for h in links if "/cite?" in h]
    assert [parse_qs(urlsplit(h).query)["format"][0] for h in formats] == ["ris", "bibtex", "csl-json"]
    assert all(parse_qs(urlsplit(h).query)["p"] == ["0"] for h in formats)
    assert desk.get(formats[0]).status_code == 200
    plain = desk.get("/articles/cocoa").get_data(as_text=True)
    assert "Cite this article" in plain and ":~:text=" not in plain


def test_one_year_archive_gets_monthly_bars_and_a_bar_narrows_to_its_month(desk):
    body = desk.get("/api/search?q=cocoa&mode=keyword").get_json()
    assert body["date_bucket"] == "month" and len(body["facets"]["date"]) == 12
    html = desk.get("/search?q=cocoa&mode=keyword").get_data(as_text=True)
    wide = html.split('class="timeline-chart timeline-wide"', 1)[1].split("</svg>", 1)[0]
    assert wide.count('class="bar"') == 12 and "Matching articles per month" in html
    march = re.search(r'href="([^"]*after=1987-03-01[^"]*)"', wide).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(march).query)["before"] == ["1987-04-01"]
    narrowed = desk.get(march, headers={"Accept": "application/json"}).get_json()
    assert narrowed["total"] == 1 and narrowed["results"][0]["published_at"].startswith("1987-03")
    narrow = html.split('class="timeline-chart timeline-narrow"', 1)[1].split("</svg>", 1)[0]
    assert 2 <= narrow.count('class="timeline-label"') <= 5  # a phone gets fewer labels, never 12
