"""Story threads: the clustering rule, threading at ingest (kept current on update and delete), the backfill,
the API, the pages; and on the real model, one story told in other words joins its thread."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from click.testing import CliRunner

from archive import threads
from archive.documents import Article
from archive.store import threads as store
from archive.write import delete_article, ingest
from archive.write.threads import backfill

T0 = datetime(1987, 3, 2, 9, 0, tzinfo=UTC)
QUAKE = (
    "A strong earthquake struck northern Ecuador, cutting the oil pipeline that carries crude from the "
    "Amazon fields to the Pacific coast port of Balao. Officials said oil exports were suspended."
)
QUAKE_2 = (
    "Ecuador will export no oil for four months after the earthquake cut its main oil pipeline to the "
    "Pacific coast, an energy ministry official said. Repairs to the pipeline could cost 120 mln dlrs."
)
QUAKE_3 = (
    "Venezuela agreed to lend Ecuador crude oil while its earthquake damaged pipeline is repaired, so that "
    "Ecuador can keep its export contracts, oil ministry officials of both countries said."
)
HARVEST = (
    "Farmers in the northern provinces began the wheat harvest two weeks early after a warm and dry spring. "
    "Growers expect yields close to last year's record, although some districts reported hail damage."
)


def art(uid: str, title: str, body: str, days: float, source: str = "Wire") -> Article:
    return Article(title=title, body=body, uid=uid, source=source, published_at=T0 + timedelta(days=days))


def quake_story() -> list[Article]:
    """One developing story over three days in three outlets, an unrelated story, and the same words a month on."""
    return [
        art("quake-1", "ECUADOR QUAKE CUTS OIL PIPELINE", QUAKE, 0),
        art("quake-2", "ECUADOR TO EXPORT NO OIL AFTER QUAKE", QUAKE_2, 1, source="Daily"),
        art("harvest", "WHEAT HARVEST STARTS EARLY", HARVEST, 1),
        art("quake-3", "VENEZUELA TO LEND OIL TO ECUADOR", QUAKE_3, 2.5, source="Courier"),
        art("quake-late", "ECUADOR OIL PIPELINE QUAKE REVIEW", QUAKE + " " + QUAKE_2, 40),
    ]


def thread_of(archive) -> dict[str, int]:
    """uid -> thread id, through the store."""
    with archive.engine.connect() as conn:
        ids = {uid: aid for aid, uid in store.uids(conn)}
        sizes = store.thread_sizes(conn, list(ids.values()))
    return {uid: sizes[aid][0] for uid, aid in ids.items() if aid in sizes}


def ids(archive) -> dict[str, int]:
    with archive.engine.connect() as conn:
        return {uid: aid for aid, uid in store.uids(conn)}


@pytest.fixture
def loose(archive):
    """The hash encoder's cosines are word overlaps: a threshold that suits them (the rules are the point here)."""
    archive.settings = replace(archive.settings, thread_similarity=0.3)
    return archive


# --- the rule --------------------------------------------------------------------------------------


def unit(*xs: float) -> np.ndarray:
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_rule_joins_close_articles_within_the_window_and_sharing_a_salient_word():
    day = timedelta(days=1)
    start = datetime(1987, 3, 2)
    items = [
        threads.Item(1, start, threads.title_words("GENCORP BID")),
        threads.Item(2, start + day, threads.title_words("GENCORP REJECTS BID")),
        threads.Item(3, start + day, threads.title_words("CAESARS REJECTS")),  # close; shares a common word only
        threads.Item(4, start + 9 * day, threads.title_words("GENCORP BID RAISED")),  # close, out of the window
        threads.Item(5, start + 2 * day, threads.title_words("GENCORP PLANT")),  # shares a word, not close
        threads.Item(6, None, threads.title_words("GENCORP BID")),  # no time: alone
    ]
    # Twenty other stories of those days make "rejects" a common title word.
    items += [threads.Item(100 + i, start + day, threads.title_words(f"REJECTS STORY{i}")) for i in range(20)]
    close, other = unit(1, 0.1, 0), unit(0, 0, 1)
    vectors = np.vstack([close, unit(1, 0.15, 0), unit(1, 0.12, 0), close, unit(0.1, 1, 0), close] + [other] * 20)
    rule = threads.Params(similarity=0.9, days=3, word_share=0.2)
    decided = threads.assign(items, vectors, rule)
    assert {k: v for k, v in decided.items() if k < 100} == {1: 1, 2: 1, 3: 3, 4: 4, 5: 5, 6: 6}
    assert threads.assign(items, vectors, replace(rule, word_share=1.0))[3] == 1  # the word test off


def test_rule_keeps_known_threads_and_near_copies_together():
    start = datetime(1987, 3, 2)
    items = [
        threads.Item(10, start, frozenset({"alpha"}), story=None, thread=7),
        threads.Item(11, start, frozenset({"alpha"}), story=30),
        threads.Item(12, start + timedelta(days=30), frozenset({"zulu"}), story=30),  # far in time and meaning
    ]
    vectors = np.vstack([unit(1, 0), unit(1, 0.01), unit(0, 1)])
    decided = threads.assign(items, vectors, threads.Params(0.9, 3, 1.0))
    assert decided == {11: 7, 12: 7}  # joins the known thread; its near copy follows it


# --- the write path (hash encoder) -------------------------------------------------------------------


def test_ingest_threads_a_developing_story_and_keeps_it_current(loose):
    archive = loose
    ingest(archive, quake_story())
    found, aid = thread_of(archive), ids(archive)
    assert found["quake-1"] == found["quake-2"] == found["quake-3"] == aid["quake-1"]  # the first article's id
    assert found["harvest"] == aid["harvest"]
    assert found["quake-late"] == aid["quake-late"]  # a month on: a new thread, however alike

    # An update that is no longer about the story leaves its thread; a delete keeps the thread's id.
    ingest(archive, [art("quake-3", "VENEZUELA WHEAT HARVEST", HARVEST.replace("northern", "southern"), 2.5)])
    assert thread_of(archive)["quake-3"] != aid["quake-1"]
    delete_article(archive, "quake-1")
    after = thread_of(archive)
    assert "quake-1" not in after and after["quake-2"] == aid["quake-1"]


@pytest.mark.parametrize("seconds", [0.0, 3600.0])
def test_ingest_threads_its_steps_together_every_record_seconds_and_at_its_end(loose, monkeypatch, seconds: float):
    """Every step threaded at once (0 s) or all of them when the ingest ends (an hour): the same threads."""
    import importlib

    recording = importlib.import_module("archive.write.threads")
    calls: list[int] = []
    record = recording.record
    monkeypatch.setattr(recording, "RECORD_SECONDS", seconds)
    monkeypatch.setattr(
        recording, "record", lambda archive, chunk_ids: calls.append(len(chunk_ids)) or record(archive, chunk_ids)
    )
    ingest(loose, quake_story(), batch_articles=1)
    found, aid = thread_of(loose), ids(loose)
    assert found["quake-1"] == found["quake-2"] == found["quake-3"] == aid["quake-1"]
    assert found["harvest"] == aid["harvest"] and found["quake-late"] == aid["quake-late"]
    assert len(calls) == (5 if seconds == 0 else 1) and sum(calls) >= 5  # one chunk or more an article


def test_an_ingest_that_fails_threads_the_steps_it_committed(loose, monkeypatch):
    import importlib

    monkeypatch.setattr(importlib.import_module("archive.write.threads"), "RECORD_SECONDS", 3600.0)

    def source():
        yield from quake_story()[:3]
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError, match="the source broke"):
        ingest(loose, source(), batch_articles=1)
    found, aid = thread_of(loose), ids(loose)
    assert found["quake-1"] == found["quake-2"] == aid["quake-1"] and found["harvest"] == aid["harvest"]


def test_backfill_rebuilds_what_ingest_made_without_the_model(loose):
    archive = loose
    ingest(archive, quake_story())
    made = thread_of(archive)
    report = backfill(archive, rebuild=True)
    assert report.articles == 5 and report.threaded == 5 and report.shared == 1
    assert thread_of(archive) == made
    assert backfill(archive).articles == 0  # nothing left to thread


def test_cli_threads_rebuild(loose, settings):
    from archive.cli import main

    ingest(loose, quake_story())
    loose.close()
    env = {"ARCHIVE_INDEX_DIR": str(settings.index_dir), "ARCHIVE_ENCODER": "hash", "ARCHIVE_THREAD_SIMILARITY": "0.3"}
    if settings.database_url:
        env["ARCHIVE_DATABASE_URL"] = settings.database_url
    result = CliRunner().invoke(main, ["threads", "--rebuild", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) | {"seconds": 0} == {
        "ok": True,
        "articles": 5,
        "threaded": 5,
        "threads": 3,
        "shared": 1,
        "seconds": 0,
    }


def test_an_article_left_unthreaded_by_a_crash_is_threaded_by_the_next_write_near_it(loose):
    archive = loose
    ingest(archive, quake_story()[:3])
    aid = ids(archive)
    with archive.engine.begin() as conn:  # as if killed after the index save, before its thread was written
        store.forget(conn, [aid["quake-2"]])
    assert "quake-2" not in thread_of(archive)
    ingest(archive, quake_story()[3:4])
    found = thread_of(archive)
    assert found["quake-2"] == found["quake-3"] == aid["quake-1"]


def test_an_archive_made_before_0007_upgrades_without_losing_data(loose):
    from sqlalchemy import text

    from archive.store.db import current_revision, head_revision, migrate

    archive = loose
    ingest(archive, quake_story())
    made = thread_of(archive)
    with archive.engine.begin() as conn:
        conn.execute(text("DROP TABLE article_threads"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0006'"))
    assert migrate(archive.engine) and current_revision(archive.engine) == head_revision()
    assert archive.stats().articles == 5 and thread_of(archive) == {}
    assert backfill(archive).articles == 5
    assert thread_of(archive) == made


# --- API and pages -----------------------------------------------------------------------------------


@pytest.fixture
def site(loose):
    from archive.web import create_app

    ingest(loose, quake_story())
    app = create_app(settings=loose.settings, archive=loose)
    app.config.update(TESTING=True)
    return app.test_client(), ids(loose)


def test_api_names_the_thread_and_serves_it(site):
    client, aid = site
    article = client.get("/api/articles/quake-2").get_json()["article"]
    assert article["thread"] == {"id": aid["quake-1"], "size": 3}
    thread = client.get(f"/api/threads/{aid['quake-1']}").get_json()["thread"]
    assert [a["uid"] for a in thread["articles"]] == ["quake-1", "quake-2", "quake-3"]  # oldest first
    assert thread["articles"][1]["source"] == "Daily" and thread["articles"][1]["published_at"].startswith("1987-03-03")
    results = client.get("/api/search?q=ecuador+pipeline&mode=keyword").get_json()["results"]
    assert {r["uid"]: r["thread"]["size"] for r in results}["quake-3"] == 3
    for bad in ("abc", "0", "-1", str(2**40), str(aid["harvest"] + 999)):
        answer = client.get(f"/api/threads/{bad}")
        assert answer.status_code == 404 and answer.get_json()["ok"] is False


def test_article_page_shows_the_story_over_time(site):
    client, aid = site
    page = client.get(f"/articles/{aid['quake-2']}").get_data(as_text=True)
    section = page[page.index("This story over time") : page.index("Related coverage")]
    for title in ("ECUADOR QUAKE CUTS OIL PIPELINE", "ECUADOR TO EXPORT NO OIL AFTER QUAKE", "VENEZUELA TO LEND OIL"):
        assert title in section
    assert "Courier" in section and "(this article)" in section and "<script" not in section
    related = page[page.index("Related coverage") :]
    assert "ECUADOR OIL PIPELINE QUAKE REVIEW" in related  # another thread: related coverage
    assert "VENEZUELA TO LEND OIL" not in related  # listed in the thread above: not repeated
    alone = client.get(f"/articles/{aid['harvest']}").get_data(as_text=True)
    assert "No other article in the archive follows this story." in alone


def test_a_result_opens_its_thread(site):
    client, aid = site
    page = client.get("/search?q=venezuela+ecuador&mode=keyword").get_data(as_text=True)
    assert f'href="/threads/{aid["quake-1"]}">Follow this story (3 articles)' in page
    timeline = client.get(f"/threads/{aid['quake-1']}").get_data(as_text=True)
    assert timeline.index("ECUADOR QUAKE CUTS") < timeline.index("ECUADOR TO EXPORT") < timeline.index("VENEZUELA TO")
    assert client.get("/threads/nope").status_code == 404


# --- meaning (the real model) -----------------------------------------------------------------------


def test_the_model_threads_a_story_told_in_other_words(model_archive):
    ingest(model_archive, quake_story())
    found, aid = thread_of(model_archive), ids(model_archive)
    assert found["quake-2"] == aid["quake-1"]  # same event, other words, next day, another outlet
    assert found["harvest"] == aid["harvest"]


def test_the_seed_is_alone_in_its_thread(app):
    client = app.test_client()
    seed = client.get("/api/articles/seed-000-9d4ed8e042963c08").get_json()["article"]
    assert seed["thread"]["size"] == 1
    page = client.get(f"/articles/{seed['id']}").get_data(as_text=True)
    assert "No other article in the archive follows this story." in page
