"""Headless Chromium on the desk: save a search and see the new article arrive on its page and in its Atom
feed, run a batch search from an uploaded file, and follow the export and citation links of a search.

The server (`archive serve`, waitress) runs over a fresh archive without the seed, with an API key and the
hash encoder (meaning is not the point here: tests/test_browser.py drives the real model)."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path

import feedparser
import pytest
from conftest import CORPUS, SEEDS, hash_archive
from live import serve
from test_browser import SCREENSHOTS, browser, page  # noqa: F401 (fixtures)

from archive.readers import read_paths
from archive.write import ingest

pytestmark = [pytest.mark.browser, pytest.mark.integration]

KEY = "desk-browser-key"
QUERY = "Iran camera disconnection"
SEED_TITLE = "Top Iranian officials show defiance after IAEA resolution"


@pytest.fixture(scope="module")
def desk_server(tmp_path_factory, hash_encoder):
    """`archive serve` over the fixture corpus (no seed), ARCHIVE_API_KEY set; yields its base URL."""
    archive = hash_archive(tmp_path_factory, "desk-browser", hash_encoder)
    ingest(archive, read_paths([CORPUS]))
    index_dir = archive.settings.index_dir
    archive.close()
    yield from serve(
        index_dir,
        tmp_path_factory.mktemp("desk-server"),
        {"ARCHIVE_ENCODER": "hash", "ARCHIVE_API_KEY": KEY, "ARCHIVE_RATE_LIMIT": "off"},
    )


def _post_seed(base: str) -> dict:
    seed = next(iter(read_paths([SEEDS])))
    body = json.dumps({"id": "seed", "title": seed.title, "text": seed.body, "date": "2022-06-09"}).encode()
    request = urllib.request.Request(
        base + "/api/articles",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as r:
        return json.load(r)


def test_save_a_search_then_the_new_article_is_on_its_page_and_in_its_feed(page, desk_server):  # noqa: F811
    page.goto(desk_server + "/search?q=" + QUERY.replace(" ", "+"))
    page.locator("summary", has_text="Save this search").click()
    assert page.locator("#save-name").input_value() == QUERY
    page.locator("#save-key").fill(KEY)
    page.get_by_role("button", name="Save and follow new articles").click()
    page.wait_for_url(re.compile(r"/saved/\d+$"))
    assert page.locator("h1").inner_text().strip() == QUERY
    assert "New since you last looked (0)" in page.locator("#new-heading").inner_text()

    assert _post_seed(desk_server)["added"] == 1
    page.reload()
    assert "(1)" in page.locator("#new-heading").inner_text()
    assert page.locator(".alerts .result-title a").first.inner_text().strip() == SEED_TITLE
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "saved.png"))

    atom_href = page.locator("link[rel=alternate][type='application/atom+xml']").get_attribute("href")
    feed = feedparser.parse(page.request.get(desk_server + atom_href).body())
    assert not feed.bozo and [e.title for e in feed.entries] == [SEED_TITLE]

    page.locator(".alerts .result-title a").first.click()  # the alert opens the article, query highlighted
    page.wait_for_url(re.compile(r"/articles/\d+\?q="))
    assert page.locator("h1").inner_text().strip() == SEED_TITLE and page.locator(".story-body mark").count() >= 1

    page.goto(desk_server + "/saved")
    row = page.locator("tr", has_text=QUERY)
    assert row.locator("td").nth(2).inner_text().strip() == "0"  # seen: no longer new
    assert page.watch.errors == [] and page.watch.dialogs == []


def test_batch_search_from_an_uploaded_file(page, desk_server, tmp_path: Path):  # noqa: F811
    names = tmp_path / "names.csv"
    names.write_text("query\noil\nIran\ncentral bank\nzzzzqq xxxyyq\n", encoding="utf-8")
    page.goto(desk_server + "/batches")
    page.locator("#batch-file").set_input_files(str(names))
    page.locator("#batch-key").fill(KEY)
    page.get_by_role("button", name="Run the batch").click()
    page.wait_for_url(re.compile(r"/batches/\d+$"))
    deadline = time.monotonic() + 60
    while page.locator("#batch-state").inner_text().strip() != "done":
        assert time.monotonic() < deadline, "the batch did not finish"
        page.wait_for_timeout(500)
        page.reload()
    assert page.locator("#batch-progress").get_attribute("value") == "4"
    rows = page.locator(".batch-results tbody tr")
    assert rows.count() == 4
    assert rows.nth(3).locator("td").nth(1).inner_text().strip() == "0"
    page.screenshot(path=str(SCREENSHOTS / "batch.png"))
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("query,matches,search_url") and len(text.splitlines()) == 5
    rows.nth(1).locator("td").first.locator("a").click()  # the query links to its search
    page.wait_for_url(re.compile(r"/search\?q=Iran"))
    assert page.locator(".result").count() >= 1
    assert page.watch.errors == []


def test_export_and_citation_links(page, desk_server):  # noqa: F811
    page.goto(desk_server + "/search?q=iran")
    with page.expect_download() as download:
        page.locator(".export-links a", has_text="CSV").click()
    rows = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    total = int(re.search(r"Export all (\d+)", page.locator(".export-links").inner_text()).group(1))
    assert rows[0].startswith("id,uid,title") and len(rows) == 1 + total
    page.locator(".result-actions a", has_text="Cite this passage").first.click()
    page.wait_for_url(re.compile(r"/articles/\d+\?.*#cite$"))
    permalink = page.locator(".cite-link a").first.get_attribute("href")
    assert re.search(r"/articles/\d+#passage-\d+$", permalink)
    with page.expect_download() as download:
        page.locator(".cite-formats a", has_text="RIS").click()
    ris = Path(download.value.path()).read_text(encoding="utf-8")
    assert ris.startswith("TY  -") and permalink in ris
    page.goto(permalink)  # the permalink lands on its passage
    anchor = permalink.rsplit("#", 1)[1]
    assert page.evaluate("document.querySelector(':target') && document.querySelector(':target').id") == anchor
    assert page.watch.errors == []
