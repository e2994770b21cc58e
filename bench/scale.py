"""Capacity of one node: archives of 100,000 to millions of articles, built without the model, then served.

    .venv/bin/python -m bench.scale --sizes 100000,1000000          # ~1 hour on 2 cores
    .venv/bin/python -m bench.scale --sizes 2000 --out build/scale-smoke

Articles are real Reuters-21578 text recombined: the lead (1-3 sentences) and title of one story,
then runs of consecutive sentences of other stories, to a length drawn from the real stories'
lengths, so every article is distinct (checked by content hash) and reads like news. Dates spread
uniformly over 2000-2024 (~110 articles a day at 1 M), eight outlets with unequal shares, and the
lead story's topics and places as labels. Chunks are sentence-packed to ~1,000 characters.

Vectors never need the model: a pool of real chunk vectors is made once (the first chunk of a few
thousand Reuters stories, embedded by the project's own encoder and cached under --out), and every
chunk's vector is a noisy neighbour of its lead story's pool vector (pulled part of the way towards
another pool vector, Gaussian noise, re-normalised: `bench.ann.neighbours_of`'s recipe), so the
vector side keeps the real clustered shape and an article's vector agrees with its lead's text.

Loading goes through the store's own bulk path (`store.bulk.add_new`, one transaction per step,
the keyword index kept by its triggers) and the vector index through the archive's own
`fit_size` + `save_vectors`. Then each size is served by a real `archive serve` and the fixed
set of `QUERIES` (common and rare words, phrases, Boolean queries, headlines, narrow and wide
filters, a one-day date range, date sorts) is sent in keyword, semantic and hybrid mode, each mode
on a freshly started server (so no mode meets query vectors cached by another); the same
requests are timed in this process, interleaved, as a reference. Near-copy signatures and threads
are not built (the articles are distinct by construction): `archive migrate` would add them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import psutil

from bench.common import (
    PROJECT_ROOT,
    Results,
    Skip,
    dir_bytes,
    log,
    p50,
    p95,
    rss_bytes,
    run_suite,
    share_encoder_cache,
)
from bench.scale_corpus import POOL_STORIES, Generator, Story, pool_vectors, read_stories

DEFAULT_OUT = PROJECT_ROOT / "build" / "scale"
STEP = 5000  # articles per bulk transaction
MODES = ("keyword", "semantic", "hybrid")
BUILT = "scale-build.json"  # the load figures, beside the archive (what --reuse reads)
WARM_UP = ("warm up grain", "warm up currency", "warm up shipping")

# The fixed query set: (label, parameters). Each is sent in every mode.
QUERIES: tuple[tuple[str, dict[str, str]], ...] = (
    ("common word", {"q": "said"}),
    ("common word", {"q": "oil"}),
    ("common word", {"q": "year"}),
    ("common words", {"q": "company said"}),
    ("common words", {"q": "oil prices"}),
    ("common words", {"q": "bank rates"}),
    ("common words", {"q": "trade deficit"}),
    ("common words", {"q": "shares profit"}),
    ("rare word", {"q": "cocoa"}),
    ("rare word", {"q": "temporao"}),
    ("rare word", {"q": "rapeseed"}),
    ("rare word", {"q": "comissaria"}),
    ("rare word", {"q": "krugerrand"}),
    ("rare words", {"q": "sugar quota"}),
    ("rare words", {"q": "coffee export quotas"}),
    ("rare + common", {"q": "soybean exports said"}),
    ("phrase", {"q": '"interest rates"'}),
    ("phrase", {"q": '"central bank"'}),
    ("phrase", {"q": '"crude oil"'}),
    ("phrase", {"q": '"trade surplus" japan'}),
    ("phrase", {"q": '"net loss"'}),
    ("boolean", {"q": "oil -opec"}),
    ("boolean", {"q": "+wheat export"}),
    ("boolean", {"q": "gold AND silver"}),
    ("headline", {"q": "bank of japan intervenes to support the dollar"}),
    ("headline", {"q": "opec ministers agree to cut crude output"}),
    ("headline", {"q": "company reports higher first quarter earnings"}),
    ("headline", {"q": "us farm exports to the soviet union rise"}),
    ("question", {"q": "why did coffee prices fall after the quota talks collapsed"}),
    ("question", {"q": "which banks raised their prime lending rate"}),
    ("wide filter", {"q": "oil", "source": "Reuters"}),
    ("wide filter", {"q": "said", "source": "Associated Press"}),
    ("wide filter", {"q": "interest rates", "after": "2010-01-01"}),
    ("label filter", {"q": "prices", "topic": "crude"}),
    ("label filter", {"q": "exports", "place": "usa"}),
    ("narrow filter", {"q": "grain", "source": "Metro Herald", "after": "2020-01-01", "before": "2020-07-01"}),
    ("narrow filter", {"q": "merger", "after": "2012-03-01", "before": "2012-03-08"}),
    ("one-day filter", {"q": "said", "after": "2013-05-14", "before": "2013-05-15"}),
    ("one-day filter", {"q": "oil", "after": "2018-11-02", "before": "2018-11-03"}),
    ("one-day filter", {"q": "central bank", "after": "2005-06-20", "before": "2005-06-21"}),
    ("date sort", {"q": "oil", "sort": "newest"}),
    ("date sort", {"q": "gold", "sort": "oldest"}),
    ("date sort", {"q": "said", "sort": "newest"}),
    ("date sort", {"q": "currency intervention", "sort": "newest", "after": "2015-01-01"}),
    ("deep page", {"q": "oil", "offset": "90"}),
    ("prefix", {"q": "export*"}),
    ("title field", {"q": "title:wheat"}),
    ("many words", {"q": "dollar yen mark sterling franc currency markets central banks"}),
    ("no match", {"q": "blockchain cryptocurrency"}),
    ("number", {"q": "1.5 billion dlrs"}),
)


def build(
    size: int,
    folder: Path,
    stories: list[Story],
    pool_ids: np.ndarray,
    pool: np.ndarray,
    encoder,
    ann_threshold: int | None = None,
) -> dict:
    """A new archive of `size` articles at `folder` (replacing one there); returns its load figures."""
    from archive.archive import open_archive
    from archive.store import bulk
    from archive.store.vector_rows import rounded
    from archive.write.maintain import writing
    from bench.common import bench_settings

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    share_encoder_cache(encoder, folder)  # the served archive finds the exported model a real ingest leaves
    archive = open_archive(bench_settings(folder), create=True)
    archive.reset_vectors(pool.shape[1])  # no model: the dimension is the pool's
    generator = Generator(stories, pool_ids, pool, seed=size)
    made = chunks = 0
    sql_s = index_s = 0.0
    started = time.perf_counter()
    ahead = ThreadPoolExecutor(max_workers=1)  # the next batch is made while SQLite stores this one
    with writing(archive, recover_first=False) as w:
        upcoming = ahead.submit(generator.batch, min(STEP, size))
        while made < size:
            prepared, vectors = upcoming.result()
            vectors = rounded(vectors)
            left = size - made - len(prepared)
            if left > 0:
                upcoming = ahead.submit(generator.batch, min(STEP, left))
            t0 = time.perf_counter()
            with w.engine.begin() as conn:
                _, chunk_ids = bulk.add_new(conn, prepared, vectors)
            t1 = time.perf_counter()
            w.vectors.add(chunk_ids, vectors)
            index_s += time.perf_counter() - t1
            sql_s += t1 - t0
            made += len(prepared)
            chunks += len(chunk_ids)
            if made % (20 * STEP) < STEP:
                log(
                    f"scale [{size:,}]: {made:,} articles, {chunks:,} chunks, {made / (time.perf_counter() - started):,.0f}/s"
                )
        ahead.shutdown()
        t0 = time.perf_counter()
        with w.engine.begin() as conn:  # what an ingest of this many articles does at its end (`compact_after`)
            w.keyword.compact(conn)
        compact_s, t0 = time.perf_counter() - t0, time.perf_counter()
        sql_s += compact_s
        w.vectors.fit_size(ann_threshold or w.settings.ann_threshold)
        w.save_vectors()
        publish_s = time.perf_counter() - t0
    archive.close()
    total = time.perf_counter() - started
    log(f"scale [{size:,}]: built in {total:.0f} s (SQL {sql_s:.0f} s, index build + publish {publish_s:.0f} s)")
    figures = {
        "articles": made,
        "chunks": chunks,
        "seconds": total,
        "sql_seconds": sql_s,
        "compact_seconds": compact_s,
        "index_seconds": index_s + publish_s,
        "generate_seconds": total - sql_s - index_s - publish_s,
    }
    (folder / BUILT).write_text(json.dumps(figures))
    return figures


def api_path(params: dict[str, str], mode: str) -> str:
    """The API URL of one query in one mode (first page of 10)."""
    return "/api/search?" + urllib.parse.urlencode({**params, "mode": mode, "limit": "10"})


def request_of(params: dict[str, str], mode: str):
    """The same query as an in-process SearchRequest."""
    from datetime import date

    from archive.search import SearchRequest

    labels = tuple((k, v) for k, v in params.items() if k in ("topic", "place"))
    return SearchRequest(
        q=params["q"],
        mode=mode,
        limit=10,
        offset=int(params.get("offset", 0)),
        sort=params.get("sort", "relevance"),
        source=params.get("source"),
        after=date.fromisoformat(params["after"]) if "after" in params else None,
        before=date.fromisoformat(params["before"]) if "before" in params else None,
        labels=labels,
    )


def serve_and_query(folder: Path, encoder, in_process: bool) -> dict:
    """Per mode: a fresh server, its cold start, then every query over HTTP (and in process, interleaved)."""
    from archive.archive import open_archive
    from archive.search import Searcher
    from bench.common import bench_settings
    from bench.latency import Server

    searcher = None
    if in_process:
        archive = open_archive(bench_settings(folder), encoder=encoder)
        searcher = Searcher(archive)
    out: dict = {"modes": {}, "cold_start_s": [], "rss": []}
    try:
        for mode in MODES:
            server = Server(folder)
            try:
                out["cold_start_s"].append(server.first_answer(api_path({"q": "cold start"}, "hybrid")))
                for warm in WARM_UP:
                    server.get(api_path({"q": warm}, mode))
                    if searcher is not None:
                        searcher.search(request_of({"q": warm}, mode))
                http_ms, cpu_ms, local_ms, per_query = [], [], [], []
                process = psutil.Process(server.proc.pid)
                for label, params in QUERIES:
                    c0 = sum(process.cpu_times()[:2])
                    t0 = time.perf_counter()
                    status, body = server.get(api_path(params, mode))
                    http_ms.append((time.perf_counter() - t0) * 1000)
                    cpu_ms.append((sum(process.cpu_times()[:2]) - c0) * 1000)
                    if status != 200:
                        raise RuntimeError(f"{mode} {params} answered {status}: {body[:300]!r}")
                    if searcher is not None:
                        t0 = time.perf_counter()
                        searcher.search(request_of(params, mode))
                        local_ms.append((time.perf_counter() - t0) * 1000)
                    per_query.append(
                        {
                            "label": label,
                            **params,
                            "ms": round(http_ms[-1], 1),
                            "cpu_ms": round(cpu_ms[-1], 1),
                            "total": json.loads(body)["total"],
                        }
                    )
                out["rss"].append(rss_bytes(server.proc.pid))
            finally:
                server.stop()
            out["modes"][mode] = {"http": http_ms, "cpu": cpu_ms, "local": local_ms, "queries": per_query}
    finally:
        if searcher is not None:
            searcher.close()
            searcher.archive.close()
    return out


def measure(
    results: Results,
    size: int,
    out: Path,
    stories,
    pool_ids,
    pool,
    encoder,
    in_process: bool,
    reuse: bool = False,
    ann_threshold: int | None = None,
) -> None:
    """Build one size (or reuse a complete earlier build), serve it, add its rows."""
    folder = out / f"archive-{size}"
    if reuse and (folder / BUILT).exists():
        loaded = json.loads((folder / BUILT).read_text())
        log(f"scale [{size:,}]: reusing the archive built earlier at {folder}")
    else:
        loaded = build(size, folder, stories, pool_ids, pool, encoder, ann_threshold)
    disk = dir_bytes(folder)
    served = serve_and_query(folder, encoder, in_process)
    label = f"{loaded['articles']:,} articles"
    results.details[str(size)] = {**loaded, "disk": disk, **served}
    per_k = disk["total"] / loaded["chunks"] * 1000 / 2**20
    results.add(
        "load",
        f"bulk load, articles/s [{label}]",
        loaded["articles"] / loaded["seconds"],
        "",
        "",
        f"{loaded['chunks']:,} chunks in {loaded['seconds']:.0f} s (SQL {loaded['sql_seconds']:.0f}, "
        f"vector index {loaded['index_seconds']:.0f}, generating {loaded['generate_seconds']:.0f})",
    )
    results.add(
        "disk",
        f"MB per 1,000 chunks [{label}]",
        per_k,
        "",
        "",
        f"SQL+FTS {disk['database'] / loaded['chunks'] * 1000 / 2**20:.2f}, vectors "
        f"{disk['vectors'] / loaded['chunks'] * 1000 / 2**20:.2f}; total {disk['total'] / 2**30:.2f} GB",
    )
    results.add("server", f"RSS MB [{label}]", max(served["rss"]) / 2**20, "", "", "after 50 queries, one process")
    results.add(
        "server",
        f"cold start s (open + first hybrid query) [{label}]",
        min(served["cold_start_s"]),
        "",
        "",
        "max " + f"{max(served['cold_start_s']):.1f} of 3 starts (files in the OS cache)",
    )
    for mode in MODES:
        m = served["modes"][mode]
        local = f"{p50(m['local']):.1f} / {p95(m['local']):.1f} in process; " if m["local"] else ""
        note = "target <= 100 / 300" if mode == "hybrid" else ""
        results.add(
            "query",
            f"{mode} p50 / p95 ms over HTTP [{label}]",
            f"{p50(m['http']):.1f} / {p95(m['http']):.1f}",
            f"{local}server CPU {p50(m['cpu']):.1f} / {p95(m['cpu']):.1f}",
            "",
            note,
        )
    for key, what in ((("said", None), "said"), (("oil", None), "oil"), (("said", "2013-05-14"), "said, one day")):
        cells = []
        for mode in ("keyword", "hybrid"):
            q = next(q for q in served["modes"][mode]["queries"] if (q["q"], q.get("after")) == key)
            cells.append(f"{q['ms']:.1f} (CPU {q['cpu_ms']:.1f})")
        results.add("query", f"keyword / hybrid ms: {what} [{label}]", " / ".join(cells))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    from archive.config import Settings
    from archive.encoders import load_encoder

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="100000,1000000", help="article counts, comma-separated (default %(default)s)"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="where the archives are built (default %(default)s)"
    )
    parser.add_argument(
        "--pool", type=int, default=POOL_STORIES, help="real chunk vectors in the pool (default %(default)s)"
    )
    parser.add_argument("--stories", type=int, default=None, help="read only the first N Reuters stories (tests)")
    parser.add_argument("--no-in-process", action="store_true", help="time over HTTP only")
    parser.add_argument("--keep", action="store_true", help="keep the built archives (default: keep the last only)")
    parser.add_argument(
        "--ann-threshold",
        type=int,
        default=None,
        help="vectors above which the index is approximate (default: the archive setting, ARCHIVE_ANN_THRESHOLD)",
    )
    parser.add_argument("--reuse", action="store_true", help="serve archives a previous run built (and kept) again")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    def body(results: Results) -> None:
        stories = read_stories(args.stories)
        if len(stories) < 100:
            raise Skip("too few Reuters stories with text")
        settings = Settings.from_env(index_dir=args.out / "pool")
        from archive.encoders import resolve_encoder

        backend = resolve_encoder(settings.encoder, None)
        encoder = load_encoder(backend, settings.model, cache_dir=args.out / "encoders")
        pool_ids, pool = pool_vectors(stories, args.pool, args.out, encoder)
        log(f"scale: {len(stories):,} Reuters stories, a pool of {len(pool):,} real vectors")
        for n, size in enumerate(sizes):
            measure(
                results,
                size,
                args.out,
                stories,
                pool_ids,
                pool,
                encoder,
                not args.no_in_process,
                args.reuse,
                args.ann_threshold,
            )
            if not args.keep and n < len(sizes) - 1:
                shutil.rmtree(args.out / f"archive-{size}", ignore_errors=True)

    return run_suite("scale", body)


if __name__ == "__main__":
    sys.exit(main())
