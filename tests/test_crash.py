"""Crash safety: SIGKILL an ingest part-way at several points, re-open, check consistency, finish the run."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive.config import Settings
from archive.core import open_archive
from archive.indexer import ingest
from archive.readers import read_paths
from tests.test_core import consistent

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ARTICLES = 400
SUBJECTS = ["The port authority", "Grain traders", "The central bank", "Oil ministers", "Union leaders", "The city council",
            "Copper miners", "Airline executives", "Health officials", "Coffee growers"]
VERBS = ["announced", "warned about", "rejected", "welcomed", "postponed", "investigated", "approved", "criticised"]
OBJECTS = ["new export quotas", "a wage agreement", "higher interest rates", "the drought relief plan", "a merger",
           "weaker demand", "the budget proposal", "rising freight costs", "a strike ballot", "record harvests"]


def write_corpus(path: Path) -> None:
    """A deterministic JSONL corpus of distinct short news stories."""
    rng = random.Random(7)
    with path.open("w") as fh:
        for i in range(ARTICLES):
            sentences = [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} on day {i}, item {j}."
                         for j in range(rng.randint(3, 12))]
            fh.write(json.dumps({"id": f"crash-{i}", "title": f"Story {i}", "text": " ".join(sentences),
                                 "date": f"2020-01-{1 + i % 28:02d}", "source": "Test Wire"}) + "\n")


def committed_chunks(db: Path) -> int:
    """Chunks visible to a reader right now (0 before the schema exists)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def ingest_process(index_dir: Path, corpus: Path) -> subprocess.Popen:
    env = {**os.environ, "ARCHIVE_INDEX_DIR": str(index_dir), "ARCHIVE_BATCH_SIZE": "16", "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "archive.cli", "ingest", str(corpus), "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def sigkill(proc: subprocess.Popen) -> None:
    """SIGKILL the process, reap it and close its pipes."""
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()


def kill_when(proc: subprocess.Popen, condition, timeout: float = 240) -> None:
    """SIGKILL the process as soon as `condition()` holds (polling every 20 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"ingest ended before the kill point: {proc.stderr.read().decode()[-2000:]}")
        if condition():
            sigkill(proc)
            return
        time.sleep(0.02)
    sigkill(proc)
    pytest.fail("kill point never reached")


def test_sigkill_at_several_points_loses_nothing_committed(tmp_path: Path, encoder):
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus)
    index_dir = tmp_path / "index"
    db = index_dir / "archive.db"
    settings = Settings(index_dir=index_dir)
    seen_chunks = 0
    # Kill points: right after the first commit (no vectors saved yet), and twice further on.
    for label, threshold in [("first commit", 1), ("later batch", None), ("mid-run", None)]:
        proc = ingest_process(index_dir, corpus)
        target = threshold or committed_chunks(db) + 1
        kill_when(proc, lambda target=target: committed_chunks(db) >= target)
        archive = open_archive(settings, encoder=encoder, recover=True)  # recovery happens on open
        articles, chunks = consistent(archive)
        assert chunks >= seen_chunks, f"{label}: committed chunks were lost"
        assert articles > 0, label
        seen_chunks = chunks
        archive.close()
    # A kill while the model is still loading (before any write) must also leave it consistent.
    proc = ingest_process(index_dir, corpus)
    time.sleep(0.5)
    sigkill(proc)
    archive = open_archive(settings, encoder=encoder, recover=True)
    stored_before, _ = consistent(archive)
    archive.close()
    # The re-run completes the rest; nothing is stored twice.
    proc = ingest_process(index_dir, corpus)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()[-2000:]
    summary = json.loads(out)
    archive = open_archive(settings, encoder=encoder)
    articles, chunks = consistent(archive)
    assert articles == ARTICLES
    assert summary["failed"] == 0
    assert (summary["added"], summary["duplicates"]) == (ARTICLES - stored_before, stored_before)
    # Ingesting the same corpus once more adds nothing.
    again = ingest(archive, read_paths([corpus]))
    assert (again.added, again.duplicates, again.updated) == (0, ARTICLES, 0)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
