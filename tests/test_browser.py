"""Headless Chromium (Debian's, driven by playwright) against `archive serve` (waitress) on 127.0.0.1."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT
from live import serve

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Screenshots go to a git-ignored folder; `make screenshots` copies them over the README's images.
SCREENSHOTS = Path(os.environ.get("ARCHIVE_SCREENSHOTS_DIR") or PROJECT_ROOT / "build" / "screenshots")
QUERY = "Iran camera disconnection"
SEED_TITLE = "Top Iranian officials show defiance after IAEA resolution"
XSS_TITLE = "<script>alert('title-xss')</script>"


@pytest.fixture(scope="module")
def live_server(seeded_archive, tmp_path_factory):
    """`archive --index-dir <seeded index> serve` in a subprocess; yields its base URL."""
    # The session's ONNX export is shared (ARCHIVE_ENCODER_CACHE): the server does not export the model again.
    log_dir = tmp_path_factory.mktemp("server")
    yield from serve(seeded_archive.settings.index_dir, log_dir, {"ARCHIVE_RATE_LIMIT": "600/minute"}, "--threads", "4")


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless; skipped only when it is not installed (`make system-packages` installs it)."""
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        pytest.skip(
            "Chromium is not installed at /usr/bin/chromium: run `make system-packages` "
            "(apt-get install chromium) to run the browser tests"
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")), args=CHROMIUM_ARGS
        )
        yield b
        b.close()


class Watch:
    """Dialogs, console errors (CSP violations show up there) and page errors seen by a page."""

    def __init__(self, page) -> None:
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, java_script_enabled=True)
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    pg.watch = Watch(pg)
    yield pg
    context.close()


def result_titles(page) -> list[str]:
    return [t.strip() for t in page.locator(".result-title a").all_inner_texts()]


def test_search_click_through_to_the_anchored_passage(page, live_server):
    page.goto(live_server + "/")
    page.get_by_label("Search words or a question").fill(QUERY)
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_url(re.compile(r"/search\?"))
    assert page.locator("#q").input_value() == QUERY
    titles = result_titles(page)
    assert titles[0] == SEED_TITLE
    first = page.locator(".result").first
    assert first.locator(".passage mark").count() >= 2
    assert page.locator("svg.timeline-wide rect.bar").count() >= 1  # the justified results' periods
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "search.png"))

    first.locator(".result-title a").click()
    page.wait_for_url(re.compile(r"/articles/\d+\?.*#passage-\d+$"))
    anchor = page.url.rsplit("#", 1)[1]
    target = page.locator(f"#{anchor}")
    assert page.evaluate("document.querySelector(':target') && document.querySelector(':target').id") == anchor
    assert "is-match" in target.get_attribute("class")
    assert target.locator("mark").count() >= 1
    background = target.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    assert target.is_visible()
    assert page.locator("h1").inner_text().strip() == SEED_TITLE
    related = page.locator(".related-list li")
    assert related.count() >= 1
    assert related.first.locator("time").count() == 1
    page.evaluate("window.scrollTo(0, 0)")  # the screenshot shows the headline with the matched passage
    page.screenshot(path=str(SCREENSHOTS / "article.png"))

    related.first.locator("a").click()
    page.wait_for_url(re.compile(r"/articles/\d+$"))
    assert page.locator("h1").inner_text().strip() != SEED_TITLE
    assert page.watch.errors == [] and page.watch.dialogs == []


def test_mode_switch_and_date_filter(page, live_server):
    page.goto(live_server + "/search?q=" + QUERY.replace(" ", "+"))
    page.locator("label[for=mode-semantic]").click()
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_url(re.compile(r"mode=semantic"))
    assert page.locator("#mode-semantic").is_checked()
    assert result_titles(page)[0] == SEED_TITLE

    page.locator("#f-after").fill("2022-01-01")
    page.locator("#f-before").fill("2023-01-01")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r"after=2022-01-01.*before=2023-01-01"))
    assert "mode=semantic" in page.url  # the filter form keeps the query and the mode
    dates = page.locator(".result time").evaluate_all("els => els.map(e => e.getAttribute('datetime'))")
    assert dates and all(d.startswith("2022") for d in dates)
    assert page.locator(".chip").count() == 2
    assert result_titles(page)[0] == SEED_TITLE

    page.locator(".chip-remove").first.click()  # remove "From"
    page.wait_for_load_state()
    assert "after=" not in page.url and "before=2023-01-01" in page.url
    assert page.watch.errors == []


def test_pagination(page, live_server):
    page.goto(live_server + "/search?q=after:1900-01-01&limit=5")  # a filter alone lists every dated article
    first_page = result_titles(page)
    assert len(first_page) == 5
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url(re.compile(r"offset=5"))
    second_page = result_titles(page)
    assert len(second_page) == 5 and not set(first_page) & set(second_page)
    assert page.locator("ol.results").get_attribute("start") == "6"
    assert page.locator("[aria-current=page]").inner_text().strip() == "2"
    page.get_by_role("link", name="Page 3").click()
    page.wait_for_url(re.compile(r"offset=10"))
    assert len(result_titles(page)) == 3  # 13 articles: 5 + 5 + 3
    page.get_by_role("link", name="← Previous").click()
    page.wait_for_url(re.compile(r"offset=5"))
    assert result_titles(page) == second_page


def test_xss_payload_renders_as_text(page, live_server):
    page.goto(live_server + "/")
    page.locator("#q").fill("harbour festival crowd")
    page.locator("#q").press("Enter")
    page.wait_for_url(re.compile(r"/search\?"))
    hit = page.locator(".result-title a", has_text="Harbour festival")
    assert hit.count() == 1
    assert XSS_TITLE in hit.inner_text()
    assert page.get_by_text(XSS_TITLE).first.is_visible()
    assert page.locator(".result img").count() == 0
    hit.click()
    page.wait_for_url(re.compile(r"/articles/"))
    assert XSS_TITLE in page.locator("h1").inner_text()
    assert "<img src=x" in page.locator(".story-body").inner_text()
    assert page.locator("script").count() == 0 and page.locator(".story img").count() == 0
    assert "Gus <b>Bold</b>" in page.locator(".story-meta").inner_text()
    page.wait_for_timeout(300)  # an onerror handler would have fired by now
    assert page.watch.dialogs == []
    assert page.watch.errors == []


def test_works_without_javascript_and_skip_link_first(browser, live_server):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    pg = context.new_page()
    try:
        pg.goto(live_server + "/")
        pg.keyboard.press("Tab")
        assert pg.evaluate("document.activeElement.className") == "skip-link"
        pg.locator("#q").fill(QUERY)
        pg.locator("#q").press("Enter")
        pg.wait_for_url(re.compile(r"/search\?"))
        assert result_titles(pg)[0] == SEED_TITLE
        width = pg.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "no horizontal scrolling on a phone"
    finally:
        context.close()


def test_empty_state_when_nothing_is_close_in_meaning(page, live_server):
    page.goto(live_server + "/search?q=bitcoin+blockchain")  # hybrid, the default mode
    assert page.locator("#results-heading").inner_text().startswith("No articles match")
    empty = page.locator(".empty-state")
    assert "close enough in meaning" in empty.inner_text()
    assert page.locator(".result").count() == 0
    # keyword mode holds neither word either: no way out that leads to another empty page
    assert empty.locator(".suggestions").count() == 0 and "You could" not in empty.inner_text()
    # one word of three is held (keyword mode matches any word); the way out says how many it finds
    page.goto(live_server + "/search?q=bitcoin+blockchain+cameras")
    assert page.locator(".result").count() == 0
    way = page.locator(".empty-state").get_by_role("link", name=re.compile("exact words only"))
    assert way.inner_text() == "Look for the exact words only (keyword mode): 1 result"
    way.click()
    page.wait_for_url(re.compile(r"mode=keyword"))
    assert page.locator("#mode-keyword").is_checked() and result_titles(page) == [SEED_TITLE]
    page.goto(live_server + "/search?q=" + QUERY.replace(" ", "+"))
    why = page.locator(".result .why").first.inner_text()
    assert "contains Iran, camera, disconnection" in why and "close in meaning" in why
    assert page.watch.errors == []


def test_topic_facet_click_filters_and_article_links_its_labels(page, live_server):
    page.goto(live_server + "/search?q=oil+prices+wheat+interest")
    facet = page.locator(".facet-label", has=page.locator("h3", has_text="Topics"))
    assert facet.count() == 1
    facet.get_by_role("link", name=re.compile(r"^crude")).click()
    page.wait_for_url(re.compile(r"topic=crude"))
    assert result_titles(page) == ["Oil prices climb as OPEC agrees to cut output"]
    assert "Topic:" in page.locator(".chips").inner_text()
    page.locator(".result-title a").first.click()
    page.wait_for_url(re.compile(r"/articles/"))
    details = page.locator(".details")
    assert details.get_by_role("link", name="saudi-arabia").count() == 1
    details.get_by_role("link", name="crude").click()
    page.wait_for_url(re.compile(r"/search\?q=topic"))
    assert result_titles(page) == ["Oil prices climb as OPEC agrees to cut output"]
    assert page.watch.errors == []
