"""Several web workers under load while an ingest runs: errors, throughput, latency, freshness on every worker.

    nice .venv/bin/python -m bench.serve_load --archive build/reuters --workers 1,2

For each worker count, on a fresh copy of `--archive` (SQLite; the copy is made under
`--work-dir` and removed afterwards):

1. `archive serve --workers N` (N = 1: waitress, 4 threads; N > 1: gunicorn, 4 threads each),
   rate limit off, its access log naming the worker pid of every request.
2. `--clients` threads send hybrid searches (Reuters headlines) back to back for `--seconds`.
3. Meanwhile `archive ingest` adds `--ingest` new stories (SciFact abstracts: text the archive
   does not hold) with the archive's own encoder (the real model).
4. A probe thread follows `--probes` of those stories (spread over the input): this process sees
   each one's commit through its own read of SQL, then asks the server for it, one request at a
   time, by keyword (its title) and by meaning (semantic mode, its title), until every worker
   (told apart by the access log) has found it in the top 10. The delay per probe and mode is
   commit -> found on the last worker.

Reports errors (non-200 answers or failed connections), requests per second, p50/p95 latency,
and the freshness delays (median and max over the probes).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from bench.common import DEFAULT_REUTERS_INDEX, SCIFACT, Results, log, p50, p95, require
from bench.latency import free_port, reuters_queries

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ARCHIVE = DEFAULT_REUTERS_INDEX
LOG_LINE = re.compile(r'^<(\d+)> \S+ \[[^\]]+\] "GET (\S+) HTTP')
COPIED = ("archive.db", "manifest.json", "vectors.faiss")


def stories(count: int) -> list[dict]:
    """`count` SciFact abstracts as news records (new text for a Reuters archive)."""
    out = []
    with require(SCIFACT / "corpus.jsonl", "SciFact corpus").open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            if doc.get("title") and len(doc.get("text", "")) > 200:
                out.append({"id": f"load-{doc['_id']}", "title": doc["title"], "text": doc["text"], "source": "Load"})
            if len(out) == count:
                break
    return out


def copy_archive(src: Path, dst: Path) -> None:
    """The database and the published index (by their names at the top: links are followed)."""
    dst.mkdir(parents=True)
    for name in COPIED:
        shutil.copyfile(src / name, dst / name)
    if (src / "encoders").exists():
        (dst / "encoders").symlink_to((src / "encoders").resolve())


class Client:
    """Keep-alive GETs to the server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int, bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            self.conn.request("GET", path)
            r = self.conn.getresponse()
            return r.status, r.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            return 0, b""


def path_of(query: str, mode: str) -> str:
    return "/api/search?" + urllib.parse.urlencode({"q": query, "mode": mode, "limit": 10})


def run_one(
    archive: Path, work: Path, workers: int, args: argparse.Namespace, corpus: Path, probes: list[dict]
) -> dict:
    index_dir = work / f"w{workers}"
    copy_archive(archive, index_dir)
    port, access = free_port(), work / f"access-{workers}.log"
    env = {**os.environ, "ARCHIVE_INDEX_DIR": str(index_dir), "ARCHIVE_RATE_LIMIT": "off", "HF_HUB_OFFLINE": "1"}
    cli = [sys.executable, "-m", "archive.cli"]
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--workers", str(workers), "--threads", "4", "--access-log", str(access)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(work / f"server-{workers}.err").open("w"),
    )
    try:
        return measure(index_dir, port, access, cli, env, args, corpus, probes)
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(index_dir, ignore_errors=True)


def measure(index_dir, port, access, cli, env, args, corpus, probes) -> dict:
    from archive.archive import open_archive
    from archive.store import reads
    from bench.common import bench_settings

    probe_client = Client(port)
    deadline = time.monotonic() + 300
    while probe_client.get("/api/health")[0] != 200:
        if time.monotonic() > deadline:
            raise SystemExit("the server did not start")
        time.sleep(0.5)
    for q in ("warm up", "oil prices"):  # every worker loads its model on its first search
        for _ in range(8):
            probe_client.get(path_of(q, "hybrid"))
    queries = reuters_queries(400)
    stop = threading.Event()
    latencies: list[float] = []
    errors = [0]

    def load(n: int) -> None:
        client, i = Client(port), n
        while not stop.is_set():
            tick = time.perf_counter()
            status, _ = client.get(path_of(queries[i % len(queries)], "hybrid"))
            latencies.append(time.perf_counter() - tick)
            errors[0] += status != 200
            i += args.clients

    ingest = subprocess.Popen(
        [*cli, "ingest", str(corpus), "--progress", "none", "--json"], env=env, stdout=subprocess.PIPE, text=True
    )
    threads = [threading.Thread(target=load, args=(n,), daemon=True) for n in range(args.clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    reader = open_archive(bench_settings(index_dir))  # reads SQL only: never loads the model
    delays: dict[str, list[float]] = {"keyword": [], "semantic": []}
    sent: dict[str, list[tuple[float, bool]]] = {}  # path -> (time, found) of each probe request, in order
    pending = list(probes)
    committed: dict[str, float] = {}
    until = time.monotonic() + args.seconds
    stopped = 0.0
    ingest_ended: float | None = None
    while pending and (ingest_ended is None or time.monotonic() < ingest_ended + 60):
        if ingest_ended is None and ingest.poll() is not None:
            ingest_ended = time.monotonic()
        if time.monotonic() >= until and not stop.is_set():
            stop.set()  # the load runs --seconds; the probes follow the ingest to its end
            stopped = time.perf_counter()
        for p in list(pending):
            if p["id"] not in committed:
                with reader.session() as s:
                    if reads.find_article(s, p["id"]) is not None:
                        committed[p["id"]] = time.perf_counter()
                continue
            done = True
            for mode in ("keyword", "semantic"):
                path = path_of(p["title"], mode)
                probe_client.conn = None  # a new connection per probe: any worker may take it (keep-alive would not)
                status, body = probe_client.get(path)
                uids = [r["uid"] for r in json.loads(body).get("results", [])] if status == 200 else []
                sent.setdefault(path, []).append((time.perf_counter(), p["id"] in uids))
                first = first_found_on_every_worker(access, path, sent[path])
                done = done and first is not None
                if first is not None and p.get(mode) is None:
                    p[mode] = first - committed[p["id"]]
                    delays[mode].append(p[mode])
            if done:
                pending.remove(p)
        time.sleep(0.05)
    while time.monotonic() < until:
        time.sleep(0.2)
    if not stop.is_set():
        stop.set()
        stopped = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = stopped - started
    out, _ = ingest.communicate(timeout=1200)
    reader.close()
    summary = json.loads(out) if out.strip() else {}
    return {
        "requests": len(latencies),
        "errors": errors[0],
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * p50(latencies),
        "p95_ms": 1000 * p95(latencies),
        "ingest_added": summary.get("added"),
        "ingest_seconds": summary.get("seconds"),
        "workers_seen": len({pid for pid, _ in log_lines(access)}),
        "probes_committed": len(committed),
        "probes_unfinished": len(pending),
        "delay_keyword_s": delays["keyword"],
        "delay_semantic_s": delays["semantic"],
    }


def log_lines(access: Path) -> list[tuple[str, str]]:
    if not access.exists():
        return []
    return [(m.group(1), m.group(2)) for m in map(LOG_LINE.match, access.read_text().splitlines()) if m]


def first_found_on_every_worker(access: Path, path: str, requests: list[tuple[float, bool]]) -> float | None:
    """The time by which every worker has answered `path` with the story found; None until then.

    The probe's requests are sequential, so the n-th access-log line of `path` is its n-th request.
    """
    lines = log_lines(access)
    if not lines:  # waitress (one process) writes no access log
        lines = [("single", path)] * len(requests)
    pids = [pid for pid, p in lines if p == path]
    everyone = {pid for pid, _ in lines}
    found: dict[str, float] = {}
    for pid, (when, hit) in zip(pids, requests, strict=False):
        if hit and pid not in found:
            found[pid] = when
    return max(found.values()) if found and set(found) >= everyone else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE, help="archive to copy (default: %(default)s)")
    parser.add_argument("--work-dir", type=Path, default=PROJECT_ROOT / "build" / "serve-load")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--ingest", type=int, default=500, help="new stories ingested during the load")
    parser.add_argument("--probes", type=int, default=5, help="of those, stories timed commit -> found")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    require(args.archive / "archive.db", "the archive to serve")
    args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=args.work_dir))
    records = stories(args.ingest)
    corpus = work / "new.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in records))
    step = max(len(records) // args.probes, 1)
    results = Results()
    runs = {}
    for workers in (int(w) for w in args.workers.split(",")):
        probes = [dict(r) for r in records[step - 1 :: step][: args.probes]]
        log(f"workers={workers}: serving a copy of {args.archive}, {args.clients} clients, ingesting {len(records)}")
        run = runs[workers] = run_one(args.archive, work, workers, args, corpus, probes)
        log(json.dumps(run))
        for metric in ("errors", "rps", "p50_ms", "p95_ms"):
            results.add(f"workers={workers}", metric, round(run[metric], 1))
        for mode in ("keyword", "semantic"):
            d = run[f"delay_{mode}_s"]
            results.add(
                f"workers={workers}",
                f"{mode} found on every worker (median/max s)",
                f"{p50(d):.1f}/{max(d, default=float('nan')):.1f}",
            )
    if 1 in runs:
        for w, run in runs.items():
            if w != 1:
                results.add(f"workers={w}", "throughput vs 1 worker", f"{run['rps'] / runs[1]['rps']:.2f}x")
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(runs, indent=2) if args.json else results.table())


if __name__ == "__main__":
    main()
