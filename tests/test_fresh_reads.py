"""Reads never wait for writes, progress is published as it goes, and size and backlog never stall a server.

Writes are made slow with an encoder that sleeps per model batch (the hash encoder underneath: no
model), so a read that waited for the write would take the write's whole duration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import archive.archive as archive_module
from archive.archive import open_archive
from archive.config import Settings
from archive.documents import Article
from archive.encoders.hashing import HashEncoder
from archive.search import Searcher, SearchRequest
from archive.write import ingest
from tests.test_core import consistent

pytestmark = pytest.mark.sqlite_only(
    "subprocess writers on the data directory's SQLite database (PostgreSQL writers: test_store_postgres.py)"
)

KEY = "test-key"
FRESHNESS_SECONDS = 10.0  # docs/operations.md: an article committed by one process is found by meaning in another


class SlowHash(HashEncoder):
    """The hash encoder, sleeping `delay` seconds per model batch of a write (queries stay fast)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.batches = 0

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        self.batches += 1
        time.sleep(self.delay)
        return super()._encode_batch(texts)

    def _encode_one(self, text: str) -> np.ndarray:
        return HashEncoder._encode_batch(self, [text])[0]


def story(i: int, topic: str = "harbour") -> Article:
    return Article(
        uid=f"s{i}",
        title=f"Story {i} about the {topic}",
        body=f"Dock workers at the {topic} voted on day {i}. The ballot number {i} closed early.",
        source="Test Wire",
    )


def record(i: int, topic: str = "harbour") -> dict:
    """The JSON record of `story(i, topic)`, as in a .jsonl file or a POST body."""
    s = story(i, topic)
    return {"id": s.uid, "title": s.title, "text": s.body, "source": s.source}


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


@pytest.fixture
def slow_archive(settings: Settings):
    """An archive whose writes take 0.3 s per model batch of 2 chunks, seeded with a few stories."""
    a = open_archive(settings.with_(batch_size=2), encoder=SlowHash(delay=0.0), create=True)
    ingest(a, [story(i, "airport") for i in range(4)])
    a.encoder.delay = 0.3
    yield a
    a.close()


def test_searches_answer_while_a_slow_write_runs_in_another_thread(slow_archive, monkeypatch):
    # Readers look at the manifest every time (raising=False: older code had no throttle).
    monkeypatch.setattr(archive_module, "RELOAD_CHECK_SECONDS", 0.0, raising=False)
    searcher = Searcher(slow_archive)
    started = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            ingest(slow_archive, [story(i) for i in range(10, 30)], on_progress=lambda p: started.set())
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    writer = threading.Thread(target=write, name="slow-writer")
    write_began = time.perf_counter()
    writer.start()
    assert started.wait(10)
    took = []
    for mode in ("hybrid", "semantic", "keyword"):
        seconds, response = timed(searcher.search, SearchRequest(q="airport ballot", mode=mode))
        took.append(seconds)
        assert response.results, mode
    seconds, related = timed(searcher.related, "s0")
    assert related, "related coverage answered nothing"
    took.append(seconds)
    assert max(took) < 0.5, f"reads took {took} during the write"
    assert writer.is_alive(), "the write ended before the reads: make it slower"
    writer.join(60)
    assert not errors, errors
    assert time.perf_counter() - write_began >= 3.0  # 20 stories in batches of 2 at 0.3 s each
    # The readers' reload checks never replaced the index the write was adding to: nothing is lost.
    articles, chunks = consistent(slow_archive)
    assert articles == 24 and slow_archive.vectors.count == chunks


def test_a_second_post_is_refused_at_once_and_searches_go_on(slow_archive):
    from archive.web import create_app

    app = create_app(settings=slow_archive.settings.with_(api_key=KEY, rate_limit="off"), archive=slow_archive)
    app.config.update(TESTING=True)
    auth = {"Authorization": f"Bearer {KEY}"}
    answers: list = []
    started = time.perf_counter()
    writer = threading.Thread(
        target=lambda: answers.append(
            app.test_client().post("/api/articles", json=[record(i) for i in range(40, 56)], headers=auth)
        )
    )
    batches_before = slow_archive.encoder.batches
    writer.start()
    client = app.test_client()
    while slow_archive.encoder.batches == batches_before and writer.is_alive():  # until the POST embeds
        time.sleep(0.01)
    seconds, busy = timed(client.post, "/api/articles", json=record(99), headers=auth)
    assert busy.status_code == 503 and seconds < 1.0
    assert int(busy.headers["Retry-After"]) > 0 and "another write" in busy.get_json()["error"]
    seconds, search = timed(client.get, "/api/search", query_string={"q": "airport ballot", "mode": "hybrid"})
    assert search.status_code == 200 and search.get_json()["results"]
    assert seconds < 0.5 and writer.is_alive()
    assert client.get("/api/health").status_code == 200
    writer.join(60)
    assert time.perf_counter() - started >= 2.0  # the POST was slow: 16 stories, batches of 2, 0.3 s each
    assert answers and answers[0].status_code == 201, answers[0].get_json()


def test_an_oversize_article_is_refused_alone_with_the_reason(settings: Settings, hash_encoder):
    archive = open_archive(settings.with_(max_article_chars=2_000), encoder=hash_encoder, create=True)
    huge = Article(uid="huge", title="Huge", body="Word after word. " * 200, source="Test Wire")
    report = ingest(archive, [story(1), huge, story(2)])
    assert (report.added, len(report.failed)) == (2, 1)
    size = len(huge.body) + len(huge.title)
    assert report.failed[0].reason == f"article too long: {size:,} characters, limit 2,000"
    assert consistent(archive)[0] == 2
    archive.close()


def test_an_oversize_article_in_a_post_is_reported_per_item(settings: Settings, hash_encoder):
    from archive.web import create_app

    archive = open_archive(settings.with_(max_article_chars=500), encoder=hash_encoder, create=True)
    app = create_app(settings=archive.settings.with_(api_key=KEY, rate_limit="off"), archive=archive)
    body = [record(1), {"id": "long", "title": "Long", "text": "x " * 400}]
    r = app.test_client().post("/api/articles", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 201
    items = r.get_json()["items"]
    assert items[0]["result"] == "stored"
    assert items[1]["result"] == "failed" and items[1]["reason"].startswith("article too long: ")
    assert items[1]["reason"].endswith(" characters, limit 500")
    archive.close()


def test_a_server_on_a_backlog_answers_at_once_and_reports_it(settings: Settings, hash_encoder, monkeypatch):
    from archive.web import create_app

    archive = open_archive(settings, encoder=hash_encoder, create=True)
    ingest(archive, [story(i) for i in range(30)])
    pending = archive.chunk_ids()[:20]
    with archive.locked():  # as after a kill: committed chunks whose vectors were never saved
        archive.vectors.remove(pending)
        archive.save_vectors()
    vectors_on_disk = archive.stats().vectors
    archive.close()
    # A slow model: embedding the backlog before serving would take 20 chunks / 2 per batch * 0.5 s = 5 s.
    slow = SlowHash(delay=0.5)
    monkeypatch.setattr(archive_module, "shared_encoder", lambda _settings: slow)
    started = time.perf_counter()
    app = create_app(settings.with_(batch_size=2))
    health = app.test_client().get("/api/health")
    seconds = time.perf_counter() - started
    assert health.status_code == 200 and seconds < 2.5, seconds
    assert health.get_json()["pending_vectors"] == 20 and health.get_json()["vectors"] == vectors_on_disk
    served = app.extensions["archive"]
    assert served.stats().pending_vectors == 20  # `archive stats` prints the same field
    assert served.stats().vectors == vectors_on_disk  # serving wrote nothing
    served.close()


SLOW_CLI = """
import sys, time
from archive.encoders.hashing import HashEncoder
batch = HashEncoder._encode_batch
def slow(self, texts):
    time.sleep({delay})
    return batch(self, texts)
HashEncoder._encode_batch = slow
from archive.cli import main
main(prog_name="archive")
"""


def test_another_process_finds_a_new_article_by_meaning_while_the_ingest_runs(tmp_path: Path, hash_encoder):
    index_dir = tmp_path / "index"
    settings = Settings(index_dir=index_dir, encoder="hash", rate_limit="off")
    reader = open_archive(settings, encoder=hash_encoder, create=True)
    ingest(reader, [story(0, "airport")])
    searcher = Searcher(reader)
    assert searcher.search(SearchRequest(q="airport", mode="semantic")).results  # the reader's index is loaded
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(record(i)) + "\n" for i in range(100, 260)))
    env = {**os.environ, "ARCHIVE_INDEX_DIR": str(index_dir), "ARCHIVE_ENCODER": "hash", "ARCHIVE_BATCH_SIZE": "4"}
    env.pop("ARCHIVE_SAVE_SECONDS", None)  # the default publishing step is under test
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_CLI.format(delay=0.5), "ingest", str(corpus), "--json", "--progress", "json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = story(100)
    query = SearchRequest(q=f"{first.title} {first.body}", mode="semantic", limit=5)  # cosine 1.0 once embedded
    try:
        committed = found = None
        deadline = time.monotonic() + 60
        while found is None and time.monotonic() < deadline and proc.poll() is None:
            if committed is None and searcher.search(SearchRequest(q='"ballot number 100"', mode="keyword")).total:
                committed = time.monotonic()  # keyword search sees the SQL commit at once
            if committed is not None and first.uid in {r.uid for r in searcher.search(query).results}:
                found = time.monotonic()
            time.sleep(0.1)
        still_ingesting = proc.poll() is None
    finally:
        proc.kill()
        _, err = proc.communicate()
    assert committed is not None, err[-2000:]
    assert found is not None and still_ingesting, f"found by meaning only when the ingest ended: {err[-1500:]}"
    assert found - committed <= FRESHNESS_SECONDS
    reader.close()
