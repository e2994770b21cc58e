"""Ingest throughput of the real write path vs. the model's raw encode of the same texts, same run, per runtime.

    .venv/bin/python -m bench.ingest                                  # 1,000 SciFact abstracts, onnx and openvino
    .venv/bin/python -m bench.ingest --corpus reuters --runtimes openvino --articles 1000

`archive.write.ingest` runs on the first N documents of the corpus (read by the project's
reader) into a temporary archive, once per runtime. The reference is `encoder.encode` of
exactly the texts that ingest embeds (title prefix + chunk), same batch size, same process,
same encoder object. The documents go in four parts, ingest and raw encode alternating
(ABBA), so a change in background load during the run hits both sides alike.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from itertools import pairwise
from pathlib import Path

from bench.common import SCIFACT, Results, bench_settings, log, require, reuters_articles, run_suite, stopwatch

RUNTIMES = ("onnx", "openvino")  # the fp32 family's batch runtimes, side by side
INGEST_TARGET = 0.95  # ingest chunks/s at least this share of the same encoder's raw chunks/s


def scifact_articles(skip: int = 0, count: int | None = None):
    """SciFact abstracts through the project's own reader (lazily), from record `skip` on."""
    from archive.readers import read_paths

    items = read_paths([require(SCIFACT / "corpus.jsonl", "SciFact corpus")])
    return itertools.islice(items, skip, None if count is None else skip + count)


CORPORA = {"scifact": (scifact_articles, "SciFact abstracts"), "reuters": (reuters_articles, "Reuters stories")}


def at_part(items: Iterator) -> Iterator:
    """The reader already at the part's first record: the records of earlier parts, which the reader parses to skip
    them, are not this part's ingest (a CLI run reads each record once). The part's own records are read inside."""
    first = next(items, None)
    return items if first is None else itertools.chain([first], items)


def embedding_texts(archive, articles, seen: set[str] | None = None) -> list[str]:
    """The texts ingest will embed for these articles (duplicates by content hash skipped, as ingest does)."""
    from archive.documents import ReadFailure
    from archive.write import embedding_text, prepare

    seen = set() if seen is None else seen
    texts: list[str] = []
    for item in articles:
        if isinstance(item, ReadFailure):
            continue
        prepared = prepare(archive, item)
        if isinstance(prepared, ReadFailure) or prepared.content_hash in seen:
            continue
        seen.add(prepared.content_hash)
        texts.extend(embedding_text(prepared.embed_prefix, c.text) for c in prepared.chunks)
    return texts


def stored_texts(archive) -> list[str]:
    """What the archive actually embedded: (title prefix + chunk) of every stored chunk."""
    from archive.write.maintain import chunk_inputs

    return [t for _, t in chunk_inputs(archive, archive.chunk_ids().tolist())]


def run(
    results: Results, articles: int, index_dir: Path, encoder=None, segments: int = 4, corpus: str = "scifact"
) -> dict:
    """Ingest `articles` documents of `corpus` into `index_dir` (empty) and compare with raw encode; adds rows.

    The stories are taken in `segments` consecutive parts; each part is ingested (one
    `ingest` call, as the CLI makes) and its texts raw-encoded, in the order ABBA so that
    load drifting during the run weighs on both sides alike. Every call pays its own
    pipeline fill, so the ingest side is if anything disadvantaged.
    """
    from archive.archive import open_archive
    from archive.encoders import load_encoder
    from archive.write import IngestReport, ingest

    read, what = CORPORA[corpus]
    settings = bench_settings(index_dir)
    if encoder is not None:
        settings = settings.with_(encoder=encoder.backend)
    encoder = encoder or load_encoder(
        settings.encoder, settings.model, cache_dir=index_dir / "encoders", batch_size=settings.batch_size
    )
    archive = open_archive(settings, encoder=encoder, create=True)
    if not archive.is_empty():
        raise ValueError(f"{index_dir} is not empty: the ingest benchmark needs a fresh archive")
    encoder.encode(["warm-up: the first call initialises the model's kernels"] * 8)
    batch = settings.batch_size
    bounds = [round(articles * i / segments) for i in range(segments + 1)]
    seen: set[str] = set()
    parts = [embedding_texts(archive, list(read(a, b - a)), seen) for a, b in pairwise(bounds)]
    texts = [t for part in parts for t in part]
    log(
        f"ingest [{encoder.backend}]: {articles} {what} -> {len(texts)} chunks, {segments} parts, "
        "ingest and raw encode alternating ..."
    )
    total = IngestReport()
    ingest_seconds = ref_seconds = 0.0
    for n, ((a, b), part) in enumerate(zip(pairwise(bounds), parts, strict=False)):
        steps = ("ref", "ingest") if n % 2 == 0 else ("ingest", "ref")
        for step in steps:
            if step == "ref":
                with stopwatch() as t:
                    encoder.encode(part, batch_size=batch)
                ref_seconds += t[0]
            else:
                items = at_part(read(a, b - a))
                encoder.forget_token_counts()  # the reference texts' pass counted these words: the ingest starts cold
                with stopwatch() as t:
                    report = ingest(archive, items)
                ingest_seconds += t[0]
                total.added += report.added
                total.chunks += report.chunks
                total.duplicates += report.duplicates
                total.failed += report.failed
                for key, value in report.timings.as_dict().items():
                    setattr(total.timings, key, getattr(total.timings, key) + value)
    report = total

    same = Counter(stored_texts(archive)) == Counter(texts)
    ingest_cps = report.chunks / ingest_seconds
    ref_cps = len(texts) / ref_seconds
    ratio = ingest_cps / ref_cps
    note = "" if same else "WARNING: texts differ from what ingest stored"
    tag = f"[{encoder.backend}]"
    raw_dps = report.added / (ref_seconds * report.chunks / max(len(texts), 1))
    results.add(
        "ingest",
        f"{tag} docs/s ({report.added} {what})",
        report.added / ingest_seconds,
        f"{raw_dps:.3g} at raw-encode speed",
        report.added / ingest_seconds / raw_dps,
        f"{report.chunks / max(report.added, 1):.2f} chunks/doc",
    )
    results.add(
        "ingest",
        f"{tag} chunks/s ({report.chunks} chunks, batch {batch})",
        ingest_cps,
        f"{ref_cps:.3g} raw encoder.encode",
        ratio,
        note or f"target >= {INGEST_TARGET}",
    )
    t = report.timings
    share = {k: v / ingest_seconds for k, v in t.as_dict().items()}
    results.add(
        "ingest",
        f"{tag} where the time goes (share of wall time)",
        f"encode {share['encode']:.0%}, waiting {share['wait']:.0%}, FAISS {share['add']:.0%}, "
        f"save {share['save']:.0%}",
        "",
        "",
        f"overlapped: prepare {share['prepare']:.0%}, SQL {share['store']:.0%}",
    )
    detail = {
        "articles": report.added,
        "failed": len(report.failed),
        "duplicates": report.duplicates,
        "chunks": report.chunks,
        "texts_match": same,
        "ingest_seconds": ingest_seconds,
        "reference_seconds": ref_seconds,
        "reference_chunks": len(texts),
        "ratio": ratio,
        "segments": segments,
        "timings": t.as_dict(),
        "batch_size": batch,
        "encoder": encoder.backend,
        "corpus": corpus,
        "docs_per_s": report.added / ingest_seconds,
        "raw_chunks_per_s": ref_cps,
    }
    results.details.setdefault("ingest", {})[encoder.backend] = detail
    archive.close()
    return detail


def run_runtimes(
    results: Results, articles: int, work: Path, runtimes: tuple[str, ...] = RUNTIMES, corpus: str = "scifact"
) -> dict:
    """`run` once per runtime, each into its own fresh archive under `work` and, when there are several, in a process
    of its own: a user's ingest runs one runtime per process, and one timed after another in the same process
    read lower (openvino after onnx: ingest/raw 0.856-0.957 in four runs; alone 0.956-0.994 in seven)."""
    out = {}
    for runtime in runtimes:
        if len(runtimes) == 1:
            rows, out[runtime] = _run_one(runtime, articles, work, corpus)
        else:
            with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as child:
                rows, out[runtime] = child.submit(_run_one, runtime, articles, work, corpus).result()
        results.rows += rows
        results.details.setdefault("ingest", {})[runtime] = out[runtime]
    fastest = max(out, key=lambda r: out[r]["raw_chunks_per_s"])
    best = max(out, key=lambda r: out[r]["chunks"] / out[r]["ingest_seconds"])
    best_cps = out[best]["chunks"] / out[best]["ingest_seconds"]
    results.add(
        "ingest",
        f"fastest ingest ({best}) vs fastest raw runtime ({fastest}), chunks/s",
        best_cps,
        f"{out[fastest]['raw_chunks_per_s']:.3g} raw {fastest}",
        best_cps / out[fastest]["raw_chunks_per_s"],
        f"target >= {INGEST_TARGET}",
    )
    return out


def _run_one(runtime: str, articles: int, work: Path, corpus: str) -> tuple[list, dict]:
    """One runtime's `run` (its rows and details), the encoder loaded from ARCHIVE_ENCODER_CACHE when set."""
    from archive.config import Settings
    from archive.encoders import load_encoder

    cache = Settings.from_env().encoder_cache or work / "encoders"  # ARCHIVE_ENCODER_CACHE: reuse an export
    mine = Results()
    detail = run(mine, articles, work / f"ingest-{runtime}", load_encoder(runtime, cache_dir=cache), corpus=corpus)
    return mine.rows, detail


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1000, help="documents to ingest (default %(default)s)")
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="scifact")
    parser.add_argument("--runtimes", default=",".join(RUNTIMES), help="comma-separated (default %(default)s)")
    args = parser.parse_args(argv)

    def body(results: Results) -> None:
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
            runtimes = tuple(r.strip() for r in args.runtimes.split(",") if r.strip())
            run_runtimes(results, args.articles, Path(tmp), runtimes, args.corpus)

    return run_suite("ingest", body)


if __name__ == "__main__":
    sys.exit(main())
