"""Reads during writes, with the real model: search latency under a POST, and freshness across processes.

    .venv/bin/python -m bench.writes --index-dir /tmp/bench-writes/index

1. Builds (once) an archive from the first `--base` Reuters-21578 records and serves it
   (`archive serve`, 4 threads, rate limit off).
2. POSTs the next `--post` stories in one request while sending `--searches` hybrid searches,
   one every half second: their client-side latency (p50/p95/max), counted only while the
   POST runs.
3. Runs `archive ingest` of the next `--fresh` stories in another process and, for every
   article it commits, times commit -> first semantic hit: the commit time is the article's
   `ingested_at` (set just before its transaction commits: a slight overstatement); this
   process watches the vector file through its own `Archive` handle (the same reload path as
   a server's) and, once the article's chunk has a vector there, asks the server for a
   semantic search on its title and the start of its first passage until the article is in the
   top 10 (near-duplicate stories can keep a few out: reported as "never").
   The hit time is that answer's.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

from bench.common import REUTERS, Results, bench_settings, log, p50, p95, require, reuters_articles, run_suite
from bench.latency import Server, reuters_queries, search_path

KEY = "bench-writes-key"
QUERY_PASSAGE_CHARS = 300  # of the first passage, after the title: a cheap query that still finds its article


def record(article) -> dict:
    """An Article as the JSON record a client would send (the fields the readers map back)."""
    out = {"id": article.uid, "title": article.title, "text": article.body, "source": article.source}
    if article.published_at:
        out["date"] = article.published_at.isoformat()
    return out


def stories(skip: int, count: int) -> list:
    """`count` readable stories (empty Reuters briefs are skipped) after the first `skip` records."""
    from archive.documents import Article

    return [a for a in reuters_articles(skip, count * 2) if isinstance(a, Article) and a.body.strip()][:count]


def build(index_dir: Path, base: int, encoder_cache: Path | None) -> None:
    """The served archive: the first `base` Reuters records, embedded by the real model."""
    from archive.archive import open_archive
    from archive.write import ingest

    if (index_dir / "manifest.json").exists():
        return
    if encoder_cache and encoder_cache.is_dir():  # reuse an ONNX export instead of making one
        shutil.copytree(encoder_cache, index_dir / "encoders" / encoder_cache.name, dirs_exist_ok=True)
    archive = open_archive(bench_settings(index_dir))
    started = time.perf_counter()
    report = ingest(archive, reuters_articles(0, base))
    log(f"built {index_dir}: {report.added} articles, {report.chunks} chunks in {time.perf_counter() - started:.0f} s")
    archive.close()


def post(server: Server, body: list[dict], out: dict) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=3600)
    started = time.perf_counter()
    conn.request(
        "POST",
        "/api/articles",
        json.dumps(body),
        {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"},
    )
    response = conn.getresponse()
    out["status"], out["body"] = response.status, json.loads(response.read())
    out["seconds"] = time.perf_counter() - started
    conn.close()


def searches_during_post(results: Results, server: Server, body: list[dict], count: int) -> None:
    outcome: dict = {}
    writer = threading.Thread(target=post, args=(server, body, outcome))
    queries = reuters_queries(count, seed=11)
    writer.start()
    time.sleep(1.0)  # the POST is embedding by now
    during: list[float] = []
    after: list[float] = []
    for q in queries:
        alive = writer.is_alive()  # by start: a search that waited for the POST counts as during it
        started = time.perf_counter()
        status, _ = server.get(search_path(q, "hybrid"))
        took = time.perf_counter() - started
        assert status == 200, status
        (during if alive else after).append(took)
        time.sleep(0.5)
    writer.join()
    log(
        f"POST: {outcome['status']} in {outcome['seconds']:.1f} s; {len(during)} searches during it, {len(after)} after"
    )
    label = f"{len(body)} stories POSTed ({outcome['seconds']:.0f} s)"
    results.add("writes", f"hybrid search p50, s, during a POST of {label}", p50(during))
    results.add("writes", "hybrid search p95, s (target < 1)", p95(during), note=f"{len(during)} searches")
    results.add("writes", "hybrid search max, s", max(during) if during else float("nan"))
    results.details["post"] = {
        "status": outcome["status"],
        "seconds": outcome["seconds"],
        "added": outcome["body"].get("added"),
        "chunks": outcome["body"].get("chunks"),
        "during": during,
        "after": after,
    }


def new_articles(db: Path, after_id: int) -> list[tuple[int, str, float, str, int]]:
    """(id, uid, commit time (epoch s), query = title + first passage, first chunk id) of articles with id > after_id."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT a.id, a.uid, a.ingested_at, a.title, c.text, c.id FROM articles a "
            "JOIN chunks c ON c.article_id = a.id AND c.seq = 0 WHERE a.id > ? ORDER BY a.id",
            (after_id,),
        ).fetchall()
    out = []
    for aid, uid, ingested, title, text, cid in rows:
        committed = datetime.fromisoformat(str(ingested)).replace(tzinfo=UTC).timestamp()
        out.append((aid, uid, committed, f"{title}\n{text[:QUERY_PASSAGE_CHARS]}", cid))
    return out


def freshness(results: Results, server: Server, index_dir: Path, fresh: list, timeout: float = 120.0) -> None:
    from archive.archive import open_archive

    corpus = index_dir.parent / "fresh.jsonl"
    corpus.write_text("".join(json.dumps(record(a)) + "\n" for a in fresh))
    db = index_dir / "archive.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        last_id = conn.execute("SELECT coalesce(max(id), 0) FROM articles").fetchone()[0]
    reader = open_archive(bench_settings(index_dir))  # vectors only: the model is never loaded here
    proc = subprocess.Popen(
        [sys.executable, "-m", "archive.cli", "--index-dir", str(index_dir)]
        + ["ingest", str(corpus), "--json", "--progress", "json"],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    saves: list[float] = []  # when the ingest reported each save (its progress events, read as they come)

    def watch() -> None:
        last = 0
        for line in proc.stderr:
            try:
                count = json.loads(line).get("saves", 0)
            except ValueError:
                continue
            if count > last:
                saves.append(time.time())
                last = count

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    waiting: dict[str, tuple[float, str, int]] = {}  # uid -> (commit time, query, first chunk id)
    delays: dict[str, float] = {}  # commit -> the server's semantic search finds it
    visible: dict[str, float] = {}  # commit -> its vector is in this process's `Archive.vectors`
    seen_ids = last_id
    ended_at = None
    while True:
        for aid, uid, committed, query, cid in new_articles(db, seen_ids):
            waiting[uid] = (committed, query, cid)
            seen_ids = max(seen_ids, aid)
        present = set(reader.vectors.ids().tolist()) if waiting else set()
        for uid, (committed, query, cid) in list(waiting.items()):
            if cid not in present:
                continue
            visible.setdefault(uid, time.time() - committed)
            status, answer = server.get(
                "/api/search?" + urllib.parse.urlencode({"q": query, "mode": "semantic", "limit": 10})
            )
            if status == 200 and uid in {r["uid"] for r in json.loads(answer)["results"]}:
                delays[uid] = time.time() - committed
                del waiting[uid]
        if proc.poll() is not None and ended_at is None:
            ended_at = time.monotonic()
        if ended_at is not None and (not waiting or time.monotonic() - ended_at > timeout):
            break
        time.sleep(0.2)
    summary = json.loads(proc.stdout.read() or "{}")
    watcher.join(5)
    gaps = [b - a for a, b in pairwise(saves)]
    reader.close()
    values, seen = list(delays.values()), list(visible.values())
    log(f"freshness: {len(values)} articles found, {len(waiting)} never; ingest {summary.get('seconds')} s")
    note = f"{len(values)} articles, ingest of {summary.get('chunks')} chunks in {summary.get('seconds')} s"
    results.add("writes", "commit -> first semantic hit in another process, p50 s", p50(values), note=note)
    results.add("writes", "commit -> first semantic hit, p95 s (target <= 10)", p95(values))
    results.add("writes", "commit -> first semantic hit, max s", max(values) if values else float("nan"))
    results.add("writes", "commit -> vector loaded by another process, p50 s", p50(seen))
    results.add("writes", "commit -> vector loaded by another process, p95 s", p95(seen))
    results.add(
        "writes", "seconds between the ingest's saves, p50 / max", f"{p50(gaps):.1f} / {max(gaps, default=0):.1f}"
    )
    results.details["freshness"] = {
        "delays": delays,
        "visible": visible,
        "never": list(waiting),
        "ingest": summary,
        "saves": saves,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", type=Path, default=Path("/tmp/bench-writes/index"))
    parser.add_argument("--base", type=int, default=2000, help="Reuters records in the served archive")
    parser.add_argument("--post", type=int, default=300, help="stories in the one POST")
    parser.add_argument("--searches", type=int, default=20, help="hybrid searches sent during the POST")
    parser.add_argument("--fresh", type=int, default=300, help="stories in the other process's ingest")
    parser.add_argument("--encoder-cache", type=Path, help="an index's encoders/<sha256> folder to copy")
    args = parser.parse_args(argv)
    require(REUTERS, "Reuters-21578 corpus")

    def body(results: Results) -> None:
        build(args.index_dir, args.base, args.encoder_cache)
        posted = stories(args.base, args.post)
        fresh = stories(args.base + 2 * args.post, args.fresh)
        os.environ["ARCHIVE_API_KEY"] = KEY  # read by the server subprocess
        server = Server(args.index_dir)
        try:
            log(f"server up in {server.first_answer('/api/health'):.1f} s")
            searches_during_post(results, server, [record(a) for a in posted], args.searches)
            freshness(results, server, args.index_dir, fresh)
        finally:
            server.stop()

    return run_suite("writes", body)


if __name__ == "__main__":
    sys.exit(main())
