"""Saved searches: alerts recorded by the write path (ingest and POST), the page, the Atom and JSON feeds,
the API and the CLI, and the migration that adds their tables to an existing archive."""

from __future__ import annotations

import feedparser
import pytest
from click.testing import CliRunner
from conftest import CORPUS, SEEDS, one_line_error
from sqlalchemy import text

from archive.archive import open_archive
from archive.cli import main
from archive.readers import read_paths
from archive.saved import alerts_of, get_saved, list_saved, save_search
from archive.search import SearchRequest
from archive.write import ingest

KEY = "saved-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
QUERY = "Iran camera disconnection"
SEED_TITLE = "Top Iranian officials show defiance after IAEA resolution"


@pytest.fixture
def corpus_archive(archive):
    """The fixture corpus without the seed (hash encoder)."""
    ingest(archive, read_paths([CORPUS]))
    return archive


@pytest.fixture
def client(corpus_archive):
    from archive.web import create_app

    app = create_app(corpus_archive.settings.with_(api_key=KEY), archive=corpus_archive)
    app.config.update(TESTING=True)
    return app.test_client()


def _seed_alerted(archive, name: str) -> list[str]:
    return [a.title for a in alerts_of(archive, get_saved(archive, name))]


def test_ingesting_the_seed_alerts_the_saved_search_and_only_it(corpus_archive):
    save_search(corpus_archive, QUERY, SearchRequest(q=QUERY))
    save_search(corpus_archive, "oil", SearchRequest(q="oil", mode="keyword"))
    save_search(corpus_archive, "no iran", SearchRequest(q="camera -iran"))
    report = ingest(corpus_archive, read_paths([SEEDS]))
    assert report.added == 1
    assert _seed_alerted(corpus_archive, QUERY) == [SEED_TITLE]
    assert _seed_alerted(corpus_archive, "oil") == []  # the seed does not say oil
    assert _seed_alerted(corpus_archive, "no iran") == []  # excluded words exclude
    counts = {s.name: (s.alerts, s.new) for s in list_saved(corpus_archive)}
    assert counts[QUERY] == (1, 1)


def test_the_ingested_seed_is_in_the_atom_feed_of_the_search_saved_before(corpus_archive, client):
    """The issue's acceptance: save "Iran camera disconnection", ingest the seed into an archive without it."""
    saved = save_search(corpus_archive, QUERY, SearchRequest(q=QUERY))
    assert client.get(f"/api/saved/{saved.id}/atom").status_code == 200
    assert feedparser.parse(client.get(f"/api/saved/{saved.id}/atom").data).entries == []
    ingest(corpus_archive, read_paths([SEEDS]))
    feed = feedparser.parse(client.get(f"/api/saved/{saved.id}/atom").data)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10" and [e.title for e in feed.entries] == [SEED_TITLE]
    assert _seed_alerted(corpus_archive, QUERY) == [SEED_TITLE]


@pytest.mark.parametrize("mode", ["hybrid", "semantic"])
def test_a_search_of_filters_alone_alerts_every_new_article_passing_them(corpus_archive, mode):
    from archive.documents import Article

    save_search(corpus_archive, "wire", SearchRequest(q="", source="Global Wire", mode=mode))
    ingest(corpus_archive, [Article(uid="w1", title="Port strike", body="Dockers walked out.", source="Global Wire")])
    ingest(corpus_archive, read_paths([SEEDS]))  # no outlet: not this one's
    assert _seed_alerted(corpus_archive, "wire") == ["Port strike"]


def test_articles_stored_before_the_search_was_saved_never_alert(corpus_archive):
    from archive.write import reindex

    save_search(corpus_archive, "iran", SearchRequest(q="iran"))  # wire-003 already says Iran
    reindex(corpus_archive)  # re-embeds every old article: still not new
    assert _seed_alerted(corpus_archive, "iran") == []
    ingest(corpus_archive, read_paths([SEEDS]))
    ingest(corpus_archive, read_paths([SEEDS]))  # a duplicate is no new article
    assert _seed_alerted(corpus_archive, "iran") == [SEED_TITLE]


def test_semantic_saved_search_alerts_above_the_similarity_setting(tmp_path, hash_encoder, settings):
    low = open_archive(settings.with_(alert_similarity=0.05), encoder=hash_encoder, create=True)
    try:
        ingest(low, read_paths([CORPUS]))
        save_search(low, "meaning", SearchRequest(q=QUERY, mode="semantic"))
        save_search(low, "meaning, other source", SearchRequest(q=QUERY, mode="semantic", source="Nowhere Daily"))
        ingest(low, read_paths([SEEDS]))
        alerts = alerts_of(low, get_saved(low, "meaning"))
        assert [a.title for a in alerts] == [SEED_TITLE]
        assert alerts[0].score is not None and alerts[0].score >= 0.05
        assert _seed_alerted(low, "meaning, other source") == []  # filters apply to semantic alerts too
    finally:
        low.close()
    high = open_archive(settings.with_(alert_similarity=0.999), encoder=hash_encoder)
    try:
        save_search(high, "strict", SearchRequest(q=QUERY, mode="semantic"))
        ingest(high, [_article("another", "Iran camera monitoring disconnected again")])
        assert _seed_alerted(high, "strict") == []
    finally:
        high.close()


def _article(uid: str, body: str):
    from archive.documents import Article

    return Article(uid=uid, title=body[:40], body=body, origin=uid)


def test_posted_articles_alert_and_the_atom_feed_parses(client):
    r = client.post("/api/saved", json={"name": QUERY, "q": QUERY}, headers=AUTH)
    assert r.status_code == 201, r.get_json()
    saved = r.get_json()["saved"]
    seed = next(iter(read_paths([SEEDS])))
    r = client.post("/api/articles", json={"id": "seed", "title": seed.title, "text": seed.body}, headers=AUTH)
    assert r.status_code == 201
    r = client.get(saved["atom_url"])
    assert r.status_code == 200 and r.mimetype == "application/atom+xml"
    feed = feedparser.parse(r.data)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title.startswith(QUERY)
    assert [e.title for e in feed.entries] == [SEED_TITLE]
    entry = feed.entries[0]
    assert "/articles/" in entry.link and entry.id.startswith("tag:")
    assert entry.summary.split()[:6] == seed.body.split()[:6]  # the summary is the article's opening
    r = client.get(saved["json_feed_url"])
    body = r.get_json(force=True)
    assert r.mimetype == "application/feed+json" and body["version"] == "https://jsonfeed.org/version/1.1"
    assert [i["title"] for i in body["items"]] == [SEED_TITLE]
    assert body["items"][0]["id"] == entry.id  # one alert, one id in both feeds


def test_page_shows_what_is_new_once(client):
    client.post("/api/saved", json={"name": "iran", "q": "iran"}, headers=AUTH)
    client.post(
        "/api/articles", json={"id": "n1", "title": "Iran talks", "text": "Iran and the agency talk."}, headers=AUTH
    )
    first = client.get("/saved/1").get_data(as_text=True)
    assert "New since you last looked (1)" in first and "Iran talks" in first
    second = client.get("/saved/1").get_data(as_text=True)
    assert "New since you last looked (0)" in second and "Earlier" in second
    assert client.get("/api/saved/1").get_json()["saved"]["new"] == 0
    listing = client.get("/saved").get_data(as_text=True)
    assert "iran" in listing and "/api/saved/1/atom" in listing


def test_writes_need_the_key_and_bad_input_is_a_400(client):
    assert client.post("/api/saved", json={"name": "x", "q": "x"}).status_code == 401
    assert client.post("/saved", data={"name": "x", "q": "x"}).status_code == 401
    assert client.post("/saved", data={"name": "x", "q": "x", "api_key": "wrong"}).status_code == 401
    for body, param in (
        ({"q": "x"}, "name"),
        ({"name": "x", "q": "x", "mode": "fuzzy"}, "mode"),
        ({"name": "x", "q": "x", "mode": ""}, "mode"),  # as /api/search?mode= (it was saved as hybrid)
        ({"name": "x", "q": "x", "after": "2026-13-01"}, "after"),
        ({"name": "x", "q": "after:yesterday"}, "q"),
        ({"name": "x", "q": 3}, "q"),
        ({"name": "x", "q": "x", "colour": "red"}, "body"),
        ({"name": "x", "q": ""}, "q"),
    ):
        r = client.post("/api/saved", json=body, headers=AUTH)
        assert r.status_code == 400 and r.get_json()["param"] == param, (body, r.get_json())
    nulls = {"name": "n", "q": "x", "mode": None, "source": None, "author": None, "after": "", "before": None}
    assert client.post("/api/saved", json=nulls, headers=AUTH).status_code == 201  # null or blank: left out
    assert client.delete("/api/saved/n", headers=AUTH).status_code == 200
    assert client.post("/api/saved", json={"name": "x", "q": "x"}, headers=AUTH).status_code == 201
    assert client.post("/api/saved", json={"name": "x", "q": "y"}, headers=AUTH).status_code == 409
    assert client.get("/api/saved/99").status_code == 404
    assert client.get("/api/saved/99999999999999999999/atom").status_code == 404
    assert client.delete("/api/saved/x").status_code == 401
    assert client.delete("/api/saved/x", headers=AUTH).get_json()["deleted"]["name"] == "x"
    assert client.get("/api/saved").get_json()["saved"] == []


def test_cli_saves_lists_shows_and_deletes(corpus_archive):
    runner = CliRunner()
    env = {"ARCHIVE_INDEX_DIR": str(corpus_archive.settings.index_dir), "ARCHIVE_ENCODER": "hash"}
    if corpus_archive.settings.database_url:
        env["ARCHIVE_DATABASE_URL"] = corpus_archive.settings.database_url
    r = runner.invoke(main, ["saved", "add", "watch", QUERY, "--mode", "keyword"], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["ingest", str(SEEDS), "--progress", "none"], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["saved", "show", "watch", "--seen"], env=env)
    assert "NEW" in r.output and SEED_TITLE in r.output
    r = runner.invoke(main, ["saved", "list"], env=env)
    assert "watch" in r.output and "alerts 1, new 0" in r.output
    assert runner.invoke(main, ["saved", "delete", "watch"], env=env).exit_code == 0
    assert "no saved search" in one_line_error(runner.invoke(main, ["saved", "show", "watch"], env=env))


def test_migration_adds_the_tables_to_an_existing_archive(settings, hash_encoder):
    a = open_archive(settings, encoder=hash_encoder, create=True)
    ingest(a, read_paths([CORPUS]))
    with a.engine.begin() as conn:  # the archive as revision 0002 left it
        for table in ("batch_queries", "batch_jobs", "alerts", "saved_searches"):
            conn.execute(text(f"DROP TABLE {table}"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0002'"))
    a.close()
    again = open_archive(settings, encoder=hash_encoder)  # opening migrates
    try:
        assert again.stats().articles == 12
        save_search(again, "after upgrade", SearchRequest(q="iran"))
        ingest(again, read_paths([SEEDS]))
        assert _seed_alerted(again, "after upgrade") == [SEED_TITLE]
    finally:
        again.close()


def test_an_alert_failure_never_fails_the_write(corpus_archive, monkeypatch):
    from archive.store import desk

    save_search(corpus_archive, "iran", SearchRequest(q="iran"))

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(desk, "matching_articles", broken)
    report = ingest(corpus_archive, read_paths([SEEDS]))
    assert report.added == 1 and corpus_archive.stats().vectors == corpus_archive.stats().chunks
    assert _seed_alerted(corpus_archive, "iran") == []


def test_semantic_alert_with_the_real_model_takes_the_seed_and_leaves_unrelated_news(model_archive):
    """The default ARCHIVE_ALERT_SIMILARITY (0.45) on all-MiniLM-L6-v2: the seed's best passage is above it
    (0.468, as semantic search scores it), a story on another subject far below."""
    from archive.documents import Article

    save_search(model_archive, "meaning", SearchRequest(q=QUERY, mode="semantic"))
    unrelated = Article(
        uid="grain",
        title="Wheat harvest beats forecasts",
        body="Farmers in Kansas brought in a record winter wheat crop, and grain prices fell on the news.",
    )
    ingest(model_archive, [*read_paths([SEEDS]), unrelated])
    alerts = alerts_of(model_archive, get_saved(model_archive, "meaning"))
    assert [a.title for a in alerts] == [SEED_TITLE]
    assert alerts[0].score >= model_archive.settings.alert_similarity
