"""Headless Chromium: a result opens its story thread, and an article page shows the story over time."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from conftest import hash_archive
from live import serve
from test_browser import SCREENSHOTS, browser, page  # noqa: F401 (fixtures)
from test_threads import quake_story

from archive.write import ingest

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture(scope="module")
def thread_server(tmp_path_factory, hash_encoder):
    """`archive serve` over a hash-encoder archive holding a story told over three days and two other stories."""
    archive = hash_archive(tmp_path_factory, "threads", hash_encoder)
    archive.settings = replace(archive.settings, thread_similarity=0.3)  # the hash encoder's cosines: word overlap
    ingest(archive, quake_story())
    index_dir = archive.settings.index_dir
    archive.close()
    yield from serve(
        index_dir, tmp_path_factory.mktemp("threads-server"), {"ARCHIVE_ENCODER": "hash", "ARCHIVE_RATE_LIMIT": "off"}
    )


def test_a_result_opens_its_thread_and_the_article_shows_the_story_over_time(page, thread_server):  # noqa: F811
    page.goto(thread_server + "/search?q=venezuela&mode=keyword")
    result = page.locator(".result").first
    assert "VENEZUELA TO LEND OIL" in result.locator(".result-title").inner_text()
    follow = result.locator("a.follow-link")
    assert follow.inner_text().strip() == "Follow this story (3 articles)"
    follow.click()
    page.wait_for_url(re.compile(r"/threads/\d+$"))
    assert page.locator("h1").inner_text().strip() == "This story over time"
    items = page.locator(".timeline li a")
    assert items.all_inner_texts() == [
        "ECUADOR QUAKE CUTS OIL PIPELINE",
        "ECUADOR TO EXPORT NO OIL AFTER QUAKE",
        "VENEZUELA TO LEND OIL TO ECUADOR",
    ]  # oldest first, one heading per day
    assert page.locator("h2.timeline-day").count() == 3

    items.nth(1).click()  # the middle article: its page lists the thread around it
    page.wait_for_url(re.compile(r"/articles/\d+$"))
    section = page.locator("section.thread")
    assert section.locator("h2").inner_text().strip() == "This story over time"
    entries = section.locator(".thread-list li")
    assert entries.count() == 3
    current = section.locator("li[aria-current='page']")
    assert "ECUADOR TO EXPORT NO OIL AFTER QUAKE" in current.inner_text() and current.locator("a").count() == 0
    assert "Courier" in entries.nth(2).inner_text() and entries.nth(2).locator("time").count() == 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "thread.png"), full_page=True)
    entries.nth(0).locator("a").click()
    page.wait_for_url(re.compile(r"/articles/\d+$"))
    assert page.locator("h1").inner_text().strip() == "ECUADOR QUAKE CUTS OIL PIPELINE"

    page.goto(thread_server + "/search?q=wheat&mode=keyword")  # a story nobody followed: no link
    assert page.locator(".result").count() == 1 and page.locator("a.follow-link").count() == 0
    assert page.watch.errors == [] and page.watch.dialogs == []
