"""Ingest throughput of the real write path vs. the model's raw encode of the same texts, same run.

    .venv/bin/python -m bench.ingest --articles 1000

`archive.write.ingest` runs on the first N Reuters stories (read by the project's reader)
into a temporary archive. The reference is `encoder.encode` of exactly the texts that ingest
embeds (title prefix + chunk), same batch size, same process, same encoder object. The
stories go in four parts, ingest and raw encode alternating (ABBA), so a change in
background load during the run hits both sides alike.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from itertools import pairwise
from pathlib import Path

from bench.common import Results, bench_settings, log, reuters_articles, run_suite, stopwatch


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


def run(results: Results, articles: int, index_dir: Path, encoder=None, segments: int = 4) -> dict:
    """Ingest `articles` Reuters stories into `index_dir` (empty) and compare with raw encode; adds rows.

    The stories are taken in `segments` consecutive parts; each part is ingested (one
    `ingest` call, as the CLI makes) and its texts raw-encoded, in the order ABBA so that
    load drifting during the run weighs on both sides alike. Every call pays its own
    pipeline fill, so the ingest side is if anything disadvantaged.
    """
    from archive.archive import open_archive
    from archive.encoders import load_encoder
    from archive.write import IngestReport, ingest

    settings = bench_settings(index_dir)
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
    parts = [embedding_texts(archive, list(reuters_articles(a, b - a)), seen) for a, b in pairwise(bounds)]
    texts = [t for part in parts for t in part]
    log(f"ingest: {articles} stories -> {len(texts)} chunks, {segments} parts, ingest and raw encode alternating ...")
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
                with stopwatch() as t:
                    report = ingest(archive, reuters_articles(a, b - a))
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
    results.add(
        "ingest",
        f"articles/s ({report.added} Reuters stories)",
        report.added / ingest_seconds,
        f"{report.added / (ref_seconds * report.chunks / max(len(texts), 1)):.3g} at raw-encode speed",
    )
    results.add(
        "ingest",
        f"chunks/s ({report.chunks} chunks, batch {batch})",
        ingest_cps,
        f"{ref_cps:.3g} raw encoder.encode",
        ratio,
        note or "target >= 0.9",
    )
    t = report.timings
    share = {k: v / ingest_seconds for k, v in t.as_dict().items()}
    results.add(
        "ingest",
        "where the time goes (share of wall time)",
        f"encode {share['encode']:.0%}, waiting {share['wait']:.0%}, FAISS {share['add']:.0%}, "
        f"save {share['save']:.0%}",
        "",
        "",
        f"overlapped producer: prepare {share['prepare']:.0%}, SQL {share['store']:.0%}",
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
    }
    results.details["ingest"] = detail
    archive.close()
    return detail


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1000, help="Reuters stories to ingest (default %(default)s)")
    args = parser.parse_args(argv)

    def body(results: Results) -> None:
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
            run(results, args.articles, Path(tmp) / "index")

    return run_suite("ingest", body)


if __name__ == "__main__":
    sys.exit(main())
