"""`archive serve --workers 2`: gunicorn worker processes over one archive; a write through one is found through
every worker, by keyword at once and by meaning once the published index is picked up."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from archive.write import ingest
from tests.test_core import article

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="gunicorn needs fork")]

KEY = "worker-test-key"
LOG_LINE = re.compile(r'^<(\d+)> \S+ \[[^\]]+\] "GET (\S+) HTTP/[\d.]+" (\d{3}) ')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture
def served(archive, settings, tmp_path: Path):
    """The archive (a few stories) served by `archive serve --workers 2` (sync workers, one request each at a time)."""
    ingest(archive, [article(f"w-{i}", f"Dockers in port {i} went on strike over pay.") for i in range(5)])
    archive.close()
    port = free_port()
    log = tmp_path / "access.log"
    env = {
        **os.environ,
        "ARCHIVE_INDEX_DIR": str(settings.index_dir),
        "ARCHIVE_ENCODER": "hash",
        "ARCHIVE_API_KEY": KEY,
        "ARCHIVE_RATE_LIMIT": "off",
        "ARCHIVE_SAVE_SECONDS": "0.2",
        **({"ARCHIVE_DATABASE_URL": settings.database_url} if settings.database_url else {}),
    }
    args = ["serve", "--workers", "2", "--threads", "1", "--port", str(port), "--access-log", str(log)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "archive.cli", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if get(f"{base}/api/health")[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"the server did not start: {proc.communicate()[1][-2000:]}")
    yield base, log, proc
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stderr.close()


def served_by(log: Path) -> dict[str, tuple[str, int]]:
    """Request path?query -> (worker pid, status), from the access log."""
    out = {}
    for line in log.read_text().splitlines():
        m = LOG_LINE.match(line)
        if m:
            out[m.group(2)] = (m.group(1), int(m.group(3)))
    return out


def test_a_write_through_one_worker_is_found_through_every_worker(served):
    base, log, proc = served
    workers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(p) == proc.pid]
    assert len(workers) == 2  # two forked worker processes under the gunicorn arbiter
    story = {"id": "w-new", "title": "Ash cloud", "text": "Volcanic ash grounded every flight across the islands."}
    body = json.dumps({"articles": [story]}).encode()
    request = urllib.request.Request(
        f"{base}/api/articles",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as r:
        assert r.status in (200, 201)

    def search(args: tuple[str, int]) -> tuple[str, int, list[str]]:
        mode, n = args
        path = f"/api/search?q=volcanic+ash+flights&mode={mode}&limit={n + 1}"  # distinct paths in the log
        status, data = get(base + path)
        return path, status, [r["uid"] for r in data.get("results", [])]

    for mode in ("keyword", "semantic"):
        deadline = time.monotonic() + 30
        while True:  # concurrent requests: both sync workers must take some
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(search, [(mode, n) for n in range(16)]))
            by = served_by(log)
            pids = {by[p][0] for p, _, _ in answers if p in by}
            found = all(status == 200 and uids[:1] == ["w-new"] for _, status, uids in answers)
            if (found and len(pids) == 2) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert all(status == 200 for _, status, _ in answers), mode
        assert found, f"{mode}: not every worker finds the new story: {answers}"
        assert len(pids) == 2, f"{mode}: answered by {pids} only"


def _parent(proc_dir: Path) -> int | None:
    try:
        return int((proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None
