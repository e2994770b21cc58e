"""Headless Chromium: a story filed three times is one result whose "2 other versions" expand to their links."""

from __future__ import annotations

import re

import pytest
from conftest import hash_archive
from live import serve
from test_browser import SCREENSHOTS, browser, page  # noqa: F401 (fixtures)
from test_duplicates import copies

from archive.write import ingest

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture(scope="module")
def copies_server(tmp_path_factory, hash_encoder):
    """`archive serve` over a hash-encoder archive holding three versions of one story and another story."""
    archive = hash_archive(tmp_path_factory, "copies", hash_encoder)
    ingest(archive, copies())
    index_dir = archive.settings.index_dir
    archive.close()
    yield from serve(
        index_dir, tmp_path_factory.mktemp("copies-server"), {"ARCHIVE_ENCODER": "hash", "ARCHIVE_RATE_LIMIT": "off"}
    )


def test_a_collapsed_result_expands_to_its_versions(page, copies_server):  # noqa: F811 (the fixture)
    page.goto(copies_server + "/search?q=bonds&mode=keyword")
    results = page.locator(".result")
    assert results.count() == 1
    assert "1 story matches" in page.locator("#results-heading").inner_text()
    details = results.first.locator("details.versions")
    summary = details.locator("summary")
    assert summary.inner_text().strip() == "2 other versions"
    links = details.locator(".versions-list a")
    assert not links.first.is_visible()  # folded until asked for
    summary.click()
    assert details.get_attribute("open") is not None
    assert links.count() == 2 and links.first.is_visible()
    metas = details.locator(".version-meta")
    assert all("wire" in t.lower() for t in metas.all_inner_texts())
    assert details.locator(".version-meta time").count() == 2
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "versions.png"))

    shown = results.first.locator(".result-title a").inner_text().strip()
    links.first.click()
    page.wait_for_url(re.compile(r"/articles/\d+$"))
    assert page.locator("h1").inner_text().strip() == shown  # a version: the same story under the same headline

    page.goto(copies_server + "/search?q=bonds&mode=keyword")
    page.locator("a.collapse-switch").click()
    page.wait_for_url(re.compile(r"collapse=false"))
    assert page.locator(".result").count() == 3 and page.locator("details.versions").count() == 0
    assert page.watch.errors == [] and page.watch.dialogs == []
