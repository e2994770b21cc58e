"""Headless Chromium: a story filed three times is one result whose "2 other versions" expand to their links."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from conftest import PROJECT_ROOT, hash_archive
from test_browser import SCREENSHOTS, STARTUP_SECONDS, _free_port, _healthy, browser, page  # noqa: F401 (fixtures)
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
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    env.update(ARCHIVE_ENCODER="hash", ARCHIVE_RATE_LIMIT="off", PYTHONUNBUFFERED="1")
    log = tmp_path_factory.mktemp("copies-server") / "serve.log"
    command = [sys.executable, "-m", "archive.cli", "--index-dir", str(index_dir), "serve", "--port", str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen([*command, "--host", "127.0.0.1"], cwd=PROJECT_ROOT, env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"archive serve did not come up on {url}:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
