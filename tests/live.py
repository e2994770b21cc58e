"""`archive serve` in a subprocess for the browser tests: start it, wait for /api/health, stop it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT

STARTUP_SECONDS = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/api/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def serve(index_dir: Path, log_dir: Path, env: dict[str, str], *args: str) -> Iterator[str]:
    """Yield the base URL of `archive --index-dir INDEX_DIR serve ARGS` on 127.0.0.1 (a fixture does
    `yield from serve(...)`); the environment is this process's without its ARCHIVE_ variables (the session's
    ONNX export folder kept), plus `env`."""
    port = free_port()
    full = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_") or k == "ARCHIVE_ENCODER_CACHE"}
    full.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1", **env)
    log = log_dir / "serve.log"
    command = [sys.executable, "-m", "archive.cli", "--index-dir", str(index_dir), "serve"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port), *args],
            cwd=PROJECT_ROOT,
            env=full,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not healthy(url):
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
