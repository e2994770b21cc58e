"""`make bench`: every performance figure beside its same-run reference, in one table (and JSON).

    .venv/bin/python -m bench.run                 # ingest per runtime, query latency at 3 sizes, cold start, RSS, disk, encoders
    .venv/bin/python -m bench.run --ndcg --ann    # + int8 nDCG@10 on SciFact, + ANN on 1,000,000 vectors
    make bench BENCH_ARGS="--all"

Suites skip with a message when ../shared/data (or the Reuters archive) is absent.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.common import (
    DEFAULT_REUTERS_INDEX,
    PROJECT_ROOT,
    SCIFACT,
    SEEDS,
    Results,
    Skip,
    bench_settings,
    log,
    require,
    reuters_articles,
    share_encoder_cache,
)


def full_archive_problem(index_dir: Path, backend: str) -> str | None:
    """Why the big archive cannot be benchmarked read-only with this encoder backend right now, or None."""
    from filelock import FileLock, Timeout

    if not (index_dir / "archive.db").exists() or not (index_dir / "manifest.json").exists():
        return f"no archive at {index_dir} (build one with `archive --index-dir {index_dir} ingest ...`)"
    lock = FileLock(str(index_dir / ".write.lock"))
    try:
        lock.acquire(timeout=0)
        lock.release()
    except Timeout:
        return f"an ingest is still writing {index_dir}"
    from archive.archive import open_archive
    from archive.errors import IndexMismatch, NoArchive

    settings = bench_settings(index_dir)
    if settings.encoder != backend:
        return (
            f"{index_dir} was built with the {settings.encoder} encoder and this run uses {backend}: "
            f"run with ARCHIVE_ENCODER={settings.encoder}, or point BENCH_REUTERS_INDEX at an archive built with {backend}"
        )
    try:
        archive = open_archive(settings)
    except (IndexMismatch, NoArchive) as exc:
        return f"{index_dir}: {exc}"
    try:
        chunks, vectors = len(archive.chunk_ids()), archive.vectors.count
    finally:
        archive.close()
    if chunks != vectors:  # serving it would run recovery, i.e. write into it
        return f"{index_dir} has {chunks} chunks but {vectors} vectors (needs recovery: not read-only)"
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the selected suites and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--articles", type=int, default=1000, help="SciFact abstracts in the timed ingest (default %(default)s)"
    )
    parser.add_argument(
        "--runtimes", default="onnx,openvino", help="encoders whose ingest is timed, side by side (default %(default)s)"
    )
    parser.add_argument(
        "--mid-size",
        type=int,
        default=2200,
        help="Reuters records in the mid-size archive, ~2,000 stories with text (default %(default)s)",
    )
    parser.add_argument(
        "--reuters-index", type=Path, default=DEFAULT_REUTERS_INDEX, help="the whole-Reuters archive (read only)"
    )
    parser.add_argument(
        "--scifact-index",
        type=Path,
        default=PROJECT_ROOT / "build" / "scifact",
        help="SciFact archive for the long-query set (built there by ingest when empty; default %(default)s)",
    )
    parser.add_argument("--queries", type=int, default=60, help="queries per mode and size (default %(default)s)")
    parser.add_argument(
        "--skip", default="", help="comma-separated suites to leave out: ingest, latency, long, encoders"
    )
    parser.add_argument("--ndcg", action="store_true", help="int8 vs torch nDCG@10 on a SciFact train subset (~15 min)")
    parser.add_argument("--ann", action="store_true", help="ANN recall/speed-up on 1,000,000 vectors (~30+ min)")
    parser.add_argument("--ann-vectors", type=int, default=1_000_000)
    parser.add_argument("--all", action="store_true", help="everything, --ndcg and --ann included")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    results = Results()
    started = time.perf_counter()

    from archive.encoders import load_encoder

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        tmp_path = Path(tmp)
        settings = bench_settings(tmp_path)  # ARCHIVE_ENCODER=onnx-int8 make bench measures the int8 path
        encoder = load_encoder(
            settings.encoder, settings.model, cache_dir=tmp_path / "encoders", batch_size=settings.batch_size
        )
        log(f"bench: encoder {encoder.backend}")
        mid = tmp_path / "mid"
        if "ingest" not in skip:
            from bench import ingest

            try:
                runtimes = tuple(r.strip() for r in args.runtimes.split(",") if r.strip())
                ingest.run_runtimes(results, args.articles, tmp_path, runtimes)
            except Skip as why:
                results.add("ingest", "throughput", "skipped", note=str(why))
            except Exception as exc:  # noqa: BLE001 - report it and go on with the other suites
                results.add("ingest", "throughput", "error", note=f"{type(exc).__name__}: {exc}")
        if "latency" not in skip:
            from bench import latency

            try:
                queries = latency.query_sets(args.queries)
                sizes = [("seeds", _seeds_archive(tmp_path / "seeds", encoder))]
                sizes.append(("~2,000 Reuters", _mid_archive(mid, args.mid_size, encoder)))
                problem = full_archive_problem(args.reuters_index, encoder.backend)
                if problem:
                    results.add("query", "whole Reuters archive", "skipped", note=problem)
                else:
                    sizes.append(("whole Reuters", args.reuters_index))
                for label, index_dir in sizes:
                    share_encoder_cache(encoder, index_dir)
                    try:
                        latency.measure(results, label, index_dir, queries, encoder)
                    except Exception as exc:  # noqa: BLE001 - one broken size must not lose the other figures
                        results.add("query", f"latency [{label}]", "error", note=f"{type(exc).__name__}: {exc}")
            except Skip as why:
                results.add("query", "latency", "skipped", note=str(why))
            except Exception as exc:  # noqa: BLE001
                results.add("query", "latency", "error", note=f"{type(exc).__name__}: {exc}")
        if "long" not in skip:
            from bench import latency
            from bench.retrieval import open_or_build

            try:
                corpus = require(SCIFACT / "corpus.jsonl", "SciFact corpus")
                built = open_or_build(corpus, args.scifact_index, {"encoder": encoder.backend}, log)
                built.close()
                share_encoder_cache(encoder, args.scifact_index)
                latency.long_queries(results, args.scifact_index, encoder, args.queries)
            except Skip as why:
                results.add("query", "long queries", "skipped", note=str(why))
            except Exception as exc:  # noqa: BLE001
                results.add("query", "long queries", "error", note=f"{type(exc).__name__}: {exc}")
        if "encoders" not in skip or args.ndcg or args.all:
            from bench import encoders
            from bench.latency import reuters_queries

            try:
                loaded = encoders.load_all(tmp_path / "encoders", encoder)
                if "encoders" not in skip:
                    encoders.speed(
                        results, loaded, encoders.reuters_texts(512, loaded["torch"]), reuters_queries(40, seed=11)
                    )
                if args.ndcg or args.all:
                    encoders.ndcg(results, loaded["torch"], loaded["onnx-int8"])
            except Skip as why:
                results.add("encoder", "int8 vs fp32", "skipped", note=str(why))
            except Exception as exc:  # noqa: BLE001
                results.add("encoder", "int8 vs fp32", "error", note=f"{type(exc).__name__}: {exc}")
    if args.ann or args.all:
        from bench import ann

        try:
            ann.run(results, args.ann_vectors, 1000, args.reuters_index, ("hnsw", "ivf"), 80, 4096)
        except Skip as why:
            results.add("ann", f"{args.ann_vectors:,} vectors", "skipped", note=str(why))
        except Exception as exc:  # noqa: BLE001
            results.add("ann", f"{args.ann_vectors:,} vectors", "error", note=f"{type(exc).__name__}: {exc}")
    results.details["seconds"] = time.perf_counter() - started
    print(results.table())
    log(f"wrote {results.write('bench')} ({results.details['seconds'] / 60:.1f} min)")
    return 0


def _seeds_archive(index_dir: Path, encoder) -> Path:
    """A fresh archive holding only seeds/."""
    from archive.archive import open_archive
    from archive.readers import read_paths
    from archive.write import ingest

    archive = open_archive(bench_settings(index_dir), encoder=encoder, create=True)
    ingest(archive, read_paths([SEEDS]))
    archive.close()
    return index_dir


def _mid_archive(index_dir: Path, total: int, encoder) -> Path:
    """An archive of the first `total` Reuters records."""
    from archive.archive import open_archive
    from archive.write import ingest

    archive = open_archive(bench_settings(index_dir), encoder=encoder, create=True)
    if total > 0:
        log(f"latency: building the mid-size archive from Reuters records 0..{total} ...")
        ingest(archive, reuters_articles(0, total))
    archive.close()
    return index_dir


if __name__ == "__main__":
    sys.exit(main())
