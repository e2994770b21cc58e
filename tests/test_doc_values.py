"""Doc values (store/docvalues.py): facets, label counts, story folding and date order counted in memory give
exactly what the SQL statements give, and stay so after writes by another connection or process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.archive import RELOAD_CHECK_SECONDS, open_archive
from archive.documents import Article
from archive.search import Searcher, SearchRequest
from archive.write import delete_article, ingest
from tests.test_duplicates import BONDS, HARVEST, REPO

T0 = datetime(1987, 3, 1, 1, 30, tzinfo=UTC)
QUERIES = ("bonds banks", "debt OR wheat", "harvest", "federal reserve", "banks -wheat", "topic:money", "")
SOURCES = ("Wire", "Courier", None)


def corpus() -> list[Article]:
    """Versions of two stories, unrelated articles, several sources, undated ones and labels."""
    out = [
        Article(
            uid=f"bonds-{n}",
            title="MANILA TO OFFER DEBT BONDS TO BANKS",
            body=BONDS.replace("documents said", f"documents said ({n})") if n else BONDS,
            source=SOURCES[n % 3],
            published_at=T0 + timedelta(hours=3 * n) if n != 2 else None,
            extra={"topics": ["money-fx", "debt"][: 1 + n % 2], "places": ["philippines"]},
        )
        for n in range(4)
    ]
    out += [
        Article(
            uid=f"repo-{n}",
            title=f"FED ADDS RESERVES VIA CUSTOMER REPURCHASES {n}",
            body=REPO.format(n=n + 1, rate=6 + n / 8),
            source=SOURCES[(n + 1) % 3],
            published_at=T0 + timedelta(days=n, hours=5) if n % 4 else None,
            extra={"topics": ["money-fx", "interest"], "places": ["usa"]},
        )
        for n in range(8)
    ]
    out += [
        Article(
            uid=f"wheat-{n}",
            title=f"WHEAT HARVEST STARTS EARLY IN PROVINCE {n}",
            body=HARVEST + f" Province {n} reported {n * 7} districts done.",
            source=SOURCES[n % 3],
            published_at=T0 + timedelta(days=2 * n),
            extra={"topics": ["grain", "wheat"], "places": ["usa", "canada"][: 1 + n % 2]},
        )
        for n in range(5)
    ]
    return out


def answers(archive, settings) -> list[dict]:
    """Every query x mode x sort x collapse, then filtered and deeper pages, as the API would answer."""
    searcher = Searcher(archive, settings)
    requests = [
        SearchRequest(q=q or "topic:grain", mode=mode, sort=sort, collapse=collapse)
        for q in QUERIES
        for mode in ("keyword", "semantic", "hybrid")
        for sort in ("relevance", "newest", "oldest")
        for collapse in (True, False)
    ]
    requests += [
        SearchRequest(q=q, mode=mode, sort=sort, source=source, limit=limit, offset=offset)
        for q in ("bonds OR reserves", "banks topic:money-fx", "")
        for mode in ("keyword", "hybrid")
        for sort in ("relevance", "newest")
        for source in ("Wire", None)
        for limit, offset in ((2, 0), (2, 2), (3, 5))
        if q or source
    ]
    out = [searcher.search(request).as_dict() for request in requests]
    searcher.close()
    return out


def vectors_reloaded(archive) -> None:
    """The other writer's vectors loaded (readers look at most once a second): both runs then search the same."""
    time.sleep(RELOAD_CHECK_SECONDS)
    assert archive.vectors is not None


def same_either_way(archive) -> list[dict]:
    with_values = answers(archive, replace(archive.settings, doc_values=True))
    assert with_values == answers(archive, replace(archive.settings, doc_values=False))
    return with_values


def test_doc_values_count_what_sql_counts(archive):
    ingest(archive, corpus())
    got = same_either_way(archive)
    assert any(r["total"] for r in got) and any(len(r["results"]) > 1 for r in got)
    folded = [v for r in got for item in r["results"] for v in item["versions"]]
    assert folded, "some query folds versions of a story"
    labelled = [r["facets"].get("topic") for r in got if r["total"]]
    assert any(labelled)
    assert any(item["thread"] and item["thread"]["size"] > 1 for r in got for item in r["results"])
    snapshot = archive.doc_values.current(list(archive.settings.labels.values()))
    assert snapshot.present.sum() == len(corpus())


def test_doc_values_follow_writes_of_another_connection(archive, settings, hash_encoder):
    ingest(archive, corpus()[:9])
    same_either_way(archive)
    before = archive.doc_values.current(list(archive.settings.labels.values()))
    other = open_archive(settings, encoder=hash_encoder)  # its own engine: another connection
    try:
        moved = corpus()[1]
        ingest(other, [replace(moved, body=moved.body + " Revised.", source="Courier", extra={"topics": ["trade"]})])
        ingest(other, corpus()[9:])
        delete_article(other, "repo-3")
    finally:
        other.close()
    vectors_reloaded(archive)
    got = same_either_way(archive)
    after = archive.doc_values.current(list(archive.settings.labels.values()))
    assert after is not before and after.mark != before.mark
    assert after.present.sum() == len(corpus()) - 1
    assert any(f["value"] == "trade" for r in got for f in r["facets"].get("topic", []))


def test_the_commit_watch_moves_with_a_commit_of_another_connection_only(archive, settings, hash_encoder):
    from archive.store.marks import CommitWatch

    ingest(archive, corpus()[:3])
    watch = CommitWatch(archive.engine)
    try:
        assert watch.moved()  # the first look
        # nothing committed: still (PostgreSQL's log may move with a checkpoint meanwhile: a few looks)
        assert not all(watch.moved() for _ in range(3))
        other = open_archive(settings, encoder=hash_encoder)
        try:
            ingest(other, corpus()[3:4])
        finally:
            other.close()
        assert watch.moved()
    finally:
        watch.close()


WRITER = """
import sys
from pathlib import Path
from archive.archive import RELOAD_CHECK_SECONDS, open_archive
from archive.config import Settings
from archive.documents import Article
from archive.write import ingest
archive = open_archive(Settings(index_dir=Path(sys.argv[1]), encoder="hash", rate_limit="off"))
ingest(archive, [Article(uid="late", title="MANILA TO OFFER DEBT BONDS TO BANKS", body={body!r}, source="Late Wire",
                         extra={{"topics": ["late-topic"]}})])
archive.close()
"""


@pytest.mark.sqlite_only("a subprocess writer on the data directory's SQLite database")
def test_doc_values_follow_an_ingest_in_another_process(archive, settings):
    ingest(archive, corpus())
    same_either_way(archive)
    script = WRITER.format(body=BONDS + " A late version.")
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[1]), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", script, str(settings.index_dir)], check=True, env=env, timeout=120)
    vectors_reloaded(archive)
    got = same_either_way(archive)
    every = SearchRequest(q="bonds banks", mode="keyword", collapse=False)  # the late version is a folded copy
    keyword = Searcher(archive).search(every).as_dict()
    assert any(f["value"] == "Late Wire" for f in keyword["facets"]["source"]), json.dumps(keyword["facets"])
    assert any(f["value"] == "late-topic" for r in got for f in r["facets"].get("topic", []))
