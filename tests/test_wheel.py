"""Ship what runs: a wheel built from the project serves the site (templates and CSS are package data)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, SEEDS

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read().decode()


def test_a_built_wheel_serves_the_search_page_with_its_css(tmp_path: Path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(PROJECT_ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next((tmp_path / "dist").glob("archive-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "archive/web/templates/search.html" in names and "archive/web/static/style.css" in names
    assert "archive/store/migrations/versions/0001_initial.py" in names
    # A clean virtualenv with the wheel unpacked into it; the dependencies come from this venv's
    # site-packages on PYTHONPATH (its .pth files, among them the editable checkout's, are not read).
    venv = tmp_path / "venv"
    subprocess.run(
        [getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", str(venv)],
        check=True,
        timeout=120,
    )
    python = str(venv / "bin" / "python")
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    zipfile.ZipFile(wheel).extractall(site)
    deps = sysconfig.get_paths()["purelib"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    env.update(
        PYTHONPATH=deps,
        ARCHIVE_INDEX_DIR=str(tmp_path / "index"),
        ARCHIVE_ENCODER="hash",
        ARCHIVE_RATE_LIMIT="off",
        HF_HUB_OFFLINE="1",
    )
    run = [python, "-s", "-m", "archive.cli"]  # -s: no user site-packages
    where = subprocess.run(
        [*run[:2], "-c", "import archive; print(archive.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip().startswith(str(site)), where.stdout  # not the source checkout
    subprocess.run([*run, "seed", str(SEEDS)], env=env, cwd=tmp_path, check=True, capture_output=True, timeout=300)
    port = free_port()
    server = subprocess.Popen(
        [*run, "serve", "--port", str(port)], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                status, kind, page = get(f"http://127.0.0.1:{port}/search?q=Iran+camera+disconnection")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(f"server did not answer: {server.stderr.read().decode()[-2000:]}")
                time.sleep(0.3)
        assert status == 200 and kind.startswith("text/html")
        assert "Top Iranian officials show defiance" in page
        css_link = "/static/style.css"
        assert css_link in page
        status, kind, css = get(f"http://127.0.0.1:{port}{css_link}")
        assert status == 200 and kind.startswith("text/css") and "{" in css
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stderr.close()
