"""Query latency over HTTP vs. the raw cost of its parts; cold start, server memory and index size.

    .venv/bin/python -m bench.latency --index-dir build/reuters

For one archive: start a real `archive serve` subprocess on 127.0.0.1 (rate limit off),
time from process start to the first answered query (cold start), then send queries one
at a time in keyword, semantic and hybrid mode and take p50/p95 of the client-side
latency. The reference, timed in this process on the same archive and the same queries,
is the sum of the parts a search cannot avoid: the query's encoding (uncached), the
FTS5 query and the FAISS search. Each mode has its own queries, so no mode is served
from the query-vector cache warmed by another.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from bench.common import (
    REUTERS,
    SCIFACT,
    Results,
    Skip,
    bench_settings,
    dir_bytes,
    log,
    p50,
    p95,
    require,
    rss_bytes,
    run_suite,
)

MODES = ("keyword", "semantic", "hybrid")
PAGE = 10
COLD_START_TIMEOUT = 600.0


def reuters_queries(count: int, seed: int = 7) -> list[str]:
    """Distinct, lower-cased Reuters headlines of 3-8 words: realistic topical queries."""
    titles = []
    with require(REUTERS, "Reuters-21578 corpus").open(encoding="utf-8") as fh:
        for line in fh:
            title = re.sub(r"&\w+;|&#\d+;|[<>]", " ", json.loads(line).get("title") or "").lower()
            words = re.findall(r"[a-z][a-z0-9.'-]*", title)
            if 3 <= len(words) <= 8:
                titles.append(" ".join(words))
    unique = sorted(set(titles))
    random.Random(seed).shuffle(unique)
    return unique[:count]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """An `archive serve` subprocess on 127.0.0.1."""

    def __init__(self, index_dir: Path, threads: int = 4, tree: Path | None = None) -> None:
        self.port = free_port()
        env = {**os.environ, "ARCHIVE_RATE_LIMIT": "off", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        # A file, not a pipe: a chatty server must never block on a full pipe mid-benchmark.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server, closed in stop()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "archive.cli",
                "--index-dir",
                str(index_dir),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--threads",
                str(threads),
            ],
            env=env,
            cwd=tree,  # another checkout of the project (`bench.latency_ab`): its `archive` is the one served
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str, timeout: float = 60.0) -> tuple[int, bytes]:
        """GET over a kept-alive connection; (status, body)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            self.conn.request("GET", path)
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise

    def first_answer(self, path: str) -> float:
        """Seconds from process start until `path` is answered with 200 (the cold start)."""
        deadline = self.started + COLD_START_TIMEOUT
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"archive serve exited: {self.log.read().decode(errors='replace')[-2000:]}")
            try:
                status, body = self.get(path, timeout=120)
                if status == 200:
                    return time.perf_counter() - self.started
                raise RuntimeError(f"first query answered {status}: {body[:300]!r}")
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("archive serve did not answer within the timeout")

    def stop(self) -> None:
        """Terminate the server."""
        if self.conn is not None:
            self.conn.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def search_path(query: str, mode: str) -> str:
    """The API URL of one search (first page of 10)."""
    return "/api/search?" + urllib.parse.urlencode({"q": query, "mode": mode, "limit": PAGE})


class Parts:
    """The unavoidable parts of a search, timed alone in this process on the same archive."""

    def __init__(self, index_dir: Path, encoder) -> None:
        from archive.archive import open_archive
        from archive.search import Searcher

        self.archive = open_archive(bench_settings(index_dir), encoder=encoder)
        self.searcher = Searcher(self.archive)
        self.encoder = encoder
        _ = self.archive.vectors

    def time(self, text: str, mode: str) -> dict[str, float]:
        """Milliseconds of each part this mode needs: encode (uncached), FTS5 query, FAISS search."""
        from archive.query import parse_query
        from archive.search.candidates import keyword_articles

        query = parse_query(text)
        window = self.searcher.settings.candidates
        out: dict[str, float] = {}
        if mode in ("keyword", "hybrid"):
            limit = PAGE if mode == "keyword" else window  # keyword mode ranks every match for one page
            started = time.perf_counter()
            keyword_articles(self.archive, query, limit)
            out["fts"] = (time.perf_counter() - started) * 1000
        if mode in ("semantic", "hybrid"):
            started = time.perf_counter()
            vector = self.encoder._encode_one(query.text_for_embedding)  # the cache would hide the model
            out["encode"] = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            self.archive.vectors.search(vector, window)
            out["faiss"] = (time.perf_counter() - started) * 1000
        return out

    def close(self) -> None:
        """Release the database."""
        self.archive.close()


def measure(results: Results, label: str, index_dir: Path, queries: dict[str, list[str]], encoder) -> dict:
    """Cold start, per-mode HTTP latency vs. parts, RSS and disk size of one archive; adds rows."""
    from archive.archive import open_archive

    probe = open_archive(bench_settings(index_dir), encoder=encoder)
    stats = probe.stats()
    probe.close()
    sizes = dir_bytes(index_dir)
    log(
        f"latency [{label}]: {stats.articles} articles, {stats.chunks} chunks, index {stats.index_type}; starting the server ..."
    )
    server = Server(index_dir)
    detail: dict = {
        "articles": stats.articles,
        "chunks": stats.chunks,
        "index_type": stats.index_type,
        "disk": sizes,
        "modes": {},
    }
    parts = Parts(index_dir, encoder)
    try:
        detail["cold_start_s"] = server.first_answer(search_path("cold start query", "hybrid"))
        for warm in ("warm up one", "warm up two", "warm up three"):
            for mode in MODES:
                server.get(search_path(warm, mode))
                parts.time(warm, mode)
        for mode in MODES:
            http_ms, parts_ms, split = [], [], {"encode": [], "fts": [], "faiss": []}
            for text in queries[mode]:
                started = time.perf_counter()
                status, body = server.get(search_path(text, mode))
                http_ms.append((time.perf_counter() - started) * 1000)
                if status != 200:
                    raise RuntimeError(f"{mode} query {text!r} answered {status}: {body[:300]!r}")
                timed = parts.time(text, mode)  # interleaved: background load drifts alike on both sides
                parts_ms.append(sum(timed.values()))
                for key, value in timed.items():
                    split[key].append(value)
            detail["modes"][mode] = {
                "http_p50": p50(http_ms),
                "http_p95": p95(http_ms),
                "parts_p50": p50(parts_ms),
                "parts_p95": p95(parts_ms),
                "queries": len(http_ms),
                **{f"{k}_p50": p50(v) for k, v in split.items() if v},
            }
        detail["server_rss"] = rss_bytes(server.proc.pid)
    finally:
        server.stop()
        parts.close()
    size = f"{label}: {stats.articles:,} articles / {stats.chunks:,} chunks"
    for mode in MODES:
        m = detail["modes"][mode]
        pieces = " + ".join(f"{k} {m[f'{k}_p50']:.1f}" for k in ("encode", "fts", "faiss") if f"{k}_p50" in m)
        results.add(
            "query",
            f"{mode} p50 / p95 ms over HTTP [{label}]",
            f"{m['http_p50']:.1f} / {m['http_p95']:.1f}",
            f"{m['parts_p50']:.1f} / {m['parts_p95']:.1f} parts",
            m["http_p50"] / m["parts_p50"],
            f"{pieces} ms" + (" (hybrid target <= 1.5x)" if mode == "hybrid" else ""),
        )
    results.add("server", f"cold start to first answer, s [{label}]", detail["cold_start_s"], "", "", size)
    results.add("server", f"RSS MB [{label}]", detail["server_rss"] / 2**20, "", "", f"index {stats.index_type}")
    if stats.chunks:
        per_k = {k: sizes[k] / stats.chunks * 1000 for k in ("database", "vectors", "total")}
        detail["bytes_per_1000_chunks"] = per_k
        results.add(
            "disk",
            f"MB per 1,000 chunks [{label}]",
            per_k["total"] / 2**20,
            "",
            "",
            f"SQL+FTS {per_k['database'] / 2**20:.2f}, FAISS {per_k['vectors'] / 2**20:.2f} in "
            f"{sizes['vector_files']} published version(s) (384 x 4 B = {384 * 4 * 1000 / 2**20:.2f} raw each)",
        )
    results.details.setdefault("latency", {})[label] = detail
    return detail


def query_sets(per_mode: int) -> dict[str, list[str]]:
    """Disjoint query lists, one per mode."""
    pool = reuters_queries(per_mode * len(MODES))
    if len(pool) < per_mode * len(MODES):
        raise Skip("not enough Reuters headlines for the query sets")
    return {mode: pool[i * per_mode : (i + 1) * per_mode] for i, mode in enumerate(MODES)}


def scifact_claims(count: int) -> list[str]:
    """The first `count` SciFact claims (~15 words of natural language each), as plain words."""
    from bench.retrieval import as_plain_words

    path = require(SCIFACT / "queries.jsonl", "SciFact queries")
    with path.open(encoding="utf-8") as fh:
        claims = [as_plain_words(json.loads(line)["text"]) for line in fh if line.strip()]
    return claims[:count]


def long_queries(results: Results, index_dir: Path, encoder, count: int = 60) -> dict:
    """Hybrid latency of long natural-language queries (SciFact claims) over HTTP, interleaved with the
    uncached ONNX query encode of the same claim: the target is hybrid p50 <= 2x the encode."""
    require(index_dir / "manifest.json", f"a SciFact archive at {index_dir}")
    claims = scifact_claims(count)
    server = Server(index_dir)
    http_ms, encode_ms = [], []
    try:
        server.first_answer(search_path("cold start query", "hybrid"))
        for warm in claims[:3]:
            server.get(search_path(warm + " warm", "hybrid"))
            encoder._encode_one(warm)
        for text in claims:
            started = time.perf_counter()
            encoder._encode_one(text)
            encode_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            status, body = server.get(search_path(text, "hybrid"))
            http_ms.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"hybrid claim {text!r} answered {status}: {body[:300]!r}")
    finally:
        server.stop()
    detail = {"http_p50": p50(http_ms), "http_p95": p95(http_ms), "encode_p50": p50(encode_ms), "queries": len(claims)}
    results.add(
        "query",
        "long queries (SciFact claims): hybrid p50 / p95 ms over HTTP",
        f"{detail['http_p50']:.1f} / {detail['http_p95']:.1f}",
        f"{detail['encode_p50']:.1f} {encoder.backend} encode",
        detail["http_p50"] / detail["encode_p50"],
        "target <= 2x the encode",
    )
    results.details.setdefault("latency", {})["long queries"] = detail
    return detail


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: measure one existing archive."""
    from archive.encoders import load_encoder

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", type=Path, required=True, help="archive to serve (read only)")
    parser.add_argument("--queries", type=int, default=60, help="queries per mode (default %(default)s)")
    args = parser.parse_args(argv)
    settings = bench_settings(args.index_dir)
    encoder = load_encoder(settings.encoder, settings.model, cache_dir=settings.encoder_cache_dir)
    return run_suite(
        "latency",
        lambda results: measure(results, args.index_dir.name, args.index_dir, query_sets(args.queries), encoder),
    )


if __name__ == "__main__":
    sys.exit(main())
