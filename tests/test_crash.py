"""Crash safety: SIGKILL a real `archive ingest` process at named points of its own progress, re-open, check
consistency, finish the run.

The kill points are read from the ingest's own progress events (`--progress json` on stderr), not
from sleeps: each point is a state the process reported, so the test proves it was reached. The
hash encoder (no model) keeps the runs short; crash safety does not depend on what the vectors mean.
Every chunk's vector is committed with it, so recovery copies what the index lacks from SQL: the
recovering process is given an encoder that fails if called, proving it re-embeds nothing. On the
PostgreSQL pass the same ten kills run against a real server.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from archive.archive import open_archive
from archive.config import Settings
from archive.encoders.hashing import HashEncoder
from archive.readers import read_paths
from archive.store.vectors import VectorIndex, read_manifest
from archive.write import ingest, recover, writing
from tests.test_core import consistent

pytestmark = [pytest.mark.slow]

ARTICLES = 500
SUBJECTS = [
    "The port authority",
    "Grain traders",
    "The central bank",
    "Oil ministers",
    "Union leaders",
    "The city council",
    "Copper miners",
    "Airline executives",
    "Health officials",
    "Coffee growers",
]
VERBS = ["announced", "warned about", "rejected", "welcomed", "postponed", "investigated", "approved", "criticised"]
OBJECTS = [
    "new export quotas",
    "a wage agreement",
    "higher interest rates",
    "the drought relief plan",
    "a merger",
    "weaker demand",
    "the budget proposal",
    "rising freight costs",
    "a strike ballot",
    "record harvests",
]
Event = dict
# Named kill points: (label, condition on the last progress event). Each must be reported by the process.
KILL_POINTS: list[tuple[str, Callable[[Event], bool]]] = [
    ("while opening (nothing written yet)", lambda e: e["stage"] == "opening"),
    (
        "first batch committed, no vector yet",
        lambda e: e.get("batches_committed", 0) >= 1 and e["chunks_embedded"] == 0,
    ),
    ("vectors in memory, none saved", lambda e: e.get("chunks_embedded", 0) > 0 and e["saves"] == 0),
    (
        "after a save, more committed than saved",
        lambda e: e.get("saves", 0) >= 1 and e["chunks_total"] > e["chunks_embedded"],
    ),
    # Further into the corpus (each run skips what the earlier ones stored): alternately just after a
    # commit (vectors in SQL, not in FAISS) and just after an add (in FAISS, perhaps unsaved).
    *[
        (
            f"past {seen} stories, {'committed, not in FAISS' if n % 2 == 0 else 'added to FAISS'}",
            (
                lambda e, seen=seen, n=n: (
                    e.get("articles_seen", 0) >= seen
                    and (e["chunks_total"] > e["chunks_embedded"]) == (n % 2 == 0)
                    and e["chunks_total"] > 0
                )
            ),
        )
        for n, seen in enumerate(range(100, 460, 60))
    ],
]


class NoModel(HashEncoder):
    """An encoder that fails when asked for a vector: recovery must copy vectors from SQL, never make them."""

    def _encode_batch(self, texts: list[str]):
        raise AssertionError(f"recovery called the model for {len(texts)} chunks")


def write_corpus(path: Path) -> None:
    """A deterministic JSONL corpus of distinct short news stories."""
    rng = random.Random(7)
    with path.open("w") as fh:
        for i in range(ARTICLES):
            sentences = [
                f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} on day {i}, item {j}."
                for j in range(rng.randint(3, 12))
            ]
            fh.write(
                json.dumps(
                    {
                        "id": f"crash-{i}",
                        "title": f"Story {i}",
                        "text": " ".join(sentences),
                        "date": f"2020-01-{1 + i % 28:02d}",
                        "source": "Test Wire",
                    }
                )
                + "\n"
            )


def ingest_process(index_dir: Path, corpus: Path, database_url: str | None) -> subprocess.Popen:
    # Small embedding batches and frequent saves, so every kill point occurs within the 400 stories.
    env = {
        **os.environ,
        **({"ARCHIVE_DATABASE_URL": database_url} if database_url else {}),
        "ARCHIVE_INDEX_DIR": str(index_dir),
        "ARCHIVE_BATCH_SIZE": "8",
        "ARCHIVE_ENCODER": "hash",
        "ARCHIVE_SAVE_SECONDS": "0.05",
        "HF_HUB_OFFLINE": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "archive.cli", "ingest", str(corpus), "--json", "--progress", "json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _reap(proc: subprocess.Popen) -> None:
    """SIGKILL the process, wait for it and close its pipes."""
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()


def kill_at(proc: subprocess.Popen, label: str, condition: Callable[[Event], bool], timeout: float = 120) -> Event:
    """SIGKILL the process at the first progress event satisfying `condition`; return that event."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    for line in proc.stderr:
        seen.append(line)
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a warning line
        if condition(event):
            _reap(proc)
            return event
        if time.monotonic() > deadline:
            break
    _reap(proc)
    pytest.fail(f"kill point {label!r} never reached; last output: {''.join(seen[-5:])[-2000:]}")


def test_sigkill_at_named_progress_points_loses_nothing_committed(tmp_path: Path, database_url: str | None):
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus)
    index_dir = tmp_path / "index"
    settings = Settings(index_dir=index_dir, encoder="hash", database_url=database_url)
    seen_chunks = 0
    assert len(KILL_POINTS) == 10
    for label, condition in KILL_POINTS:
        event = kill_at(ingest_process(index_dir, corpus, database_url), label, condition)
        archive = open_archive(settings, encoder=NoModel(), create=True)  # the kill may precede the database
        with writing(archive, timeout=0, recover_first=False):  # what the next open for writing does
            outcome = recover(archive)
        assert outcome.embedded == 0, label
        articles, chunks = consistent(archive)
        assert chunks >= seen_chunks, f"{label}: committed chunks were lost"
        if event["stage"] == "progress":
            assert chunks >= event["chunks_total"], f"{label}: a reported commit is missing"
        published = VectorIndex.load(index_dir, archive.vectors.dim) if chunks else None
        if published is not None:  # the published file and its manifest agree with SQL, not just memory
            assert sorted(published.ids().tolist()) == sorted(archive.chunk_ids().tolist()), label
            assert read_manifest(index_dir).count == chunks, label
        seen_chunks = chunks
        archive.close()
    reopened = open_archive(settings)
    stored_before = consistent(reopened)[0]
    reopened.close()
    # The re-run completes the rest; nothing is stored twice.
    proc = ingest_process(index_dir, corpus, database_url)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    summary = json.loads(out)
    archive = open_archive(settings)
    articles, _ = consistent(archive)
    assert articles == ARTICLES
    assert summary["failed"] == 0
    assert (summary["added"], summary["duplicates"]) == (ARTICLES - stored_before, stored_before)
    # Ingesting the same corpus once more adds nothing.
    again = ingest(archive, read_paths([corpus]))
    assert (again.added, again.duplicates, again.updated) == (0, ARTICLES, 0)
    archive.close()
    if database_url is None:  # the SQLite file survived every kill (PostgreSQL's own recovery is not ours to test)
        with sqlite3.connect(index_dir / "archive.db") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
