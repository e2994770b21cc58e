"""Embedding on Ray actors (ARCHIVE_EMBED=ray): 1 actor vs 2 actors of one thread each, and their vectors.

    .venv/bin/python -m bench.ray_embed                 # 1,536 Reuters chunks, 6 rounds
    .venv/bin/python -m bench.ray_embed --texts 3072 --rounds 12 --encoder onnx
    .venv/bin/python -m bench.ray_embed --ingest 100 --rounds 4   # the whole ingest: in-process vs 2 actors

A local Ray instance (3 logical CPUs: both executors' actors live through the whole run, only one
computes at a time) runs the write path's executor (`archive.executors.ray_executor.RayExecutor`)
with 1 actor and with 2 actors, each actor one intra-op thread; the in-process encoder with one
thread is the reference for the actors' own overhead. The same Reuters chunk texts (title prefix +
passage, as ingest makes them) are split into rounds; every round each arm encodes that round's
texts in model batches of ARCHIVE_BATCH_SIZE, the arms' order rotating from round to round, so
background load hits all alike. Reported: chunks/s per arm (total texts over total seconds), the
scaling ratio 2 actors / 1 actor, the cores the model's processes got (their CPU seconds over the
wall time: on a machine busy with other work, two actors may get no more CPU than one, and the
chunks per CPU-second then say whether the design or the machine limits the scaling), and the
per-text cosine of the actors' vectors to the in-process encoder's (the same texts in the same
batches), which must be >= 0.99999. Keep each round's texts a
multiple of 2 batches (the default 1,536 texts in 6 rounds: 4 batches of 64 a round), so both actors
have work to the end of a round.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import PROJECT_ROOT, Results, log, run_suite
from bench.encoders import reuters_texts

COSINE_FLOOR = 0.99999
DEFAULT_CACHE = PROJECT_ROOT / "build" / "bench-encoders"  # the exported model, kept between runs (git-ignored)


def arms(encoder_name: str, cache_dir: Path, batch: int) -> tuple[dict, object]:
    """{arm: encode(texts)} for in-process 1 thread, 1 actor and 2 actors; and the in-process encoder."""
    from archive.config import Settings
    from archive.encoders import load_encoder
    from archive.executors.ray_executor import RayExecutor

    in_process = load_encoder(encoder_name, cache_dir=cache_dir, batch_size=batch, threads=1)
    base = Settings(encoder=encoder_name, encoder_cache=cache_dir, embed="ray", ray_threads=1, batch_size=batch)
    one = RayExecutor(base.with_(ray_actors=1), in_process.info)
    two = RayExecutor(base.with_(ray_actors=2), in_process.info)
    log(f"actors placed: 1-actor pids {[p['pid'] for p in one.placed]}, 2-actor pids {[p['pid'] for p in two.placed]}")
    return {
        "in-process, 1 thread": (lambda texts: in_process.encode(texts, batch), None),
        "Ray, 1 actor x 1 thread": (lambda texts: one.encode(texts, batch), [p["pid"] for p in one.placed]),
        "Ray, 2 actors x 1 thread": (lambda texts: two.encode(texts, batch), [p["pid"] for p in two.placed]),
    }, in_process


def cpu_seconds(pids: list[int] | None) -> float:
    """CPU seconds (user + system) used so far by the actors' processes, or by this process (None)."""
    import psutil

    if pids is None:
        return time.process_time()
    return sum(sum(psutil.Process(pid).cpu_times()[:2]) for pid in pids)


def measure(results: Results, texts: list[str], encode: dict, in_process, rounds: int) -> dict:
    """Interleaved rounds (the arms' order rotating); chunks/s per arm, the scaling ratio and the cosines."""
    names = list(encode)
    seconds = dict.fromkeys(names, 0.0)
    cpu = dict.fromkeys(names, 0.0)  # CPU seconds of the processes that ran the model
    done = dict.fromkeys(names, 0)
    vectors: dict[str, list[np.ndarray]] = {n: [] for n in names}
    size = -(-len(texts) // rounds)
    for r in range(rounds):
        part = texts[r * size : (r + 1) * size]
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order if r % 2 == 0 else order[::-1]:
            run, pids = encode[name]
            started, used = time.perf_counter(), cpu_seconds(pids)
            out = run(part)
            seconds[name] += time.perf_counter() - started
            cpu[name] += cpu_seconds(pids) - used
            done[name] += len(part)
            vectors[name].append(out)
        log(
            f"round {r + 1}/{rounds}: "
            + ", ".join(f"{n} {done[n] / seconds[n]:.1f}/s ({cpu[n] / seconds[n]:.2f} cores)" for n in names)
        )
    rate = {n: done[n] / seconds[n] for n in names}
    cores = {n: cpu[n] / seconds[n] for n in names}  # the CPU the model got: below 1 per thread = a busy machine
    one, two, inproc = names[1], names[2], names[0]
    local = np.concatenate(vectors[inproc])  # the same texts, the same batches, in this process
    cosines = {n: np.sum(np.concatenate(vectors[n]) * local, axis=1) for n in names}
    results.add("ray", f"{inproc}: chunks/s", rate[inproc], note=f"{len(texts)} Reuters chunks, {rounds} rounds")
    results.add("ray", f"{one}: chunks/s", rate[one], rate[inproc], rate[one] / rate[inproc], "vs in-process 1 thread")
    results.add("ray", f"{two}: chunks/s", rate[two], rate[one], rate[two] / rate[one], "scaling: vs 1 actor")
    for name in names:
        results.add("ray", f"{name}: cores used", cores[name], note="CPU seconds of its model's processes / wall")
        results.add("ray", f"{name}: chunks per CPU-second", done[name] / cpu[name])
    results.add(
        "ray",
        "scaling at equal CPU share (chunks/s per core used)",
        (rate[two] / cores[two]) / (rate[one] / cores[one]),
        note="1.0 = a second actor costs no efficiency",
    )
    for name in (one, two):
        low = float(cosines[name].min())
        results.add(
            "ray",
            f"{name}: min cosine to in-process",
            f"{low:.7f}",
            COSINE_FLOOR,
            note=f"per text, {len(texts)} texts; " + ("ok" if low >= COSINE_FLOOR else "BELOW the floor"),
        )
    detail = {
        "texts": len(texts),
        "rounds": rounds,
        "batch": in_process.batch_size,
        "encoder": in_process.backend,
        "seconds": seconds,
        "chunks_per_s": rate,
        "cpu_seconds": cpu,
        "cores_used": cores,
        "scaling_2_over_1": rate[two] / rate[one],
        "min_cosine": {n: float(c.min()) for n, c in cosines.items()},
    }
    results.details["ray_embed"] = detail
    return detail


def stored(archive) -> dict:
    """{(title, chunk text): stored vector} of an archive."""
    from archive.store import vector_rows, writes

    ids = archive.chunk_ids().tolist()
    with archive.engine.connect() as conn:
        texts = {cid: (title, text) for cid, text, title in writes.chunk_texts(conn, ids)}
        got, vectors = vector_rows.read_vectors(conn, ids)
    return {texts[int(cid)]: v for cid, v in zip(got, vectors, strict=True)}


def ingest_compare(results: Results, articles: int, rounds: int, encoder_name: str, cache_dir: Path) -> dict:
    """The whole write path: `ingest` of the same Reuters stories into fresh archives, in-process vs 2 actors, ABBA."""
    import tempfile

    from archive.archive import open_archive
    from archive.config import Settings
    from archive.executors import executor_for
    from archive.write import ingest
    from bench.common import reuters_articles

    base = Settings(encoder=encoder_name, encoder_cache=cache_dir)
    arms = {
        "ingest, in-process (ARCHIVE_EMBED=local)": base,
        "ingest, Ray 2 actors x 1 thread": base.with_(embed="ray", ray_actors=2, ray_threads=1),
    }
    seconds = dict.fromkeys(arms, 0.0)
    chunks = dict.fromkeys(arms, 0)
    vectors: dict[str, dict] = {n: {} for n in arms}
    with tempfile.TemporaryDirectory(prefix="bench-ray-ingest-") as tmp:
        for r in range(rounds):
            items = list(reuters_articles(r * articles, articles))
            for name in list(arms) if r % 2 == 0 else list(arms)[::-1]:
                archive = open_archive(arms[name].with_(index_dir=Path(tmp) / f"{r}-{len(name)}"), create=True)
                executor_for(archive)  # the model (and the actors, once per process) loaded before the clock
                started = time.perf_counter()
                report = ingest(archive, items)
                seconds[name] += time.perf_counter() - started
                chunks[name] += report.chunks
                vectors[name].update(stored(archive))
                archive.close()
            log(f"ingest round {r + 1}/{rounds}: " + ", ".join(f"{n} {chunks[n] / seconds[n]:.1f}/s" for n in arms))
    local, remote = list(arms)
    keys = sorted(vectors[local].keys() & vectors[remote].keys())
    a = np.stack([vectors[local][k] for k in keys])
    b = np.stack([vectors[remote][k] for k in keys])
    cosine = float((np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min())
    rate = {n: chunks[n] / seconds[n] for n in arms}
    results.add("ray", f"{local}: chunks/s", rate[local], note=f"{rounds} x {articles} Reuters stories, ABBA")
    results.add("ray", f"{remote}: chunks/s", rate[remote], rate[local], rate[remote] / rate[local], "vs in-process")
    results.add(
        "ray",
        "ingest: min cosine, actors' stored vectors to in-process",
        f"{cosine:.7f}",
        COSINE_FLOOR,
        note=f"{len(keys)} chunks (float16 as stored)",
    )
    detail = {"seconds": seconds, "chunks": chunks, "chunks_per_s": rate, "min_cosine": cosine, "compared": len(keys)}
    results.details["ray_ingest"] = detail
    return detail


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    from archive.encoders import NEW_ARCHIVE_ENCODER

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=1536, help="Reuters chunks encoded by every arm")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds (the texts split among them)")
    parser.add_argument("--encoder", default=NEW_ARCHIVE_ENCODER, help="encoder of the actors (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=64, help="model batch (ARCHIVE_BATCH_SIZE)")
    parser.add_argument(
        "--ingest",
        type=int,
        default=0,
        help="instead: ingest this many Reuters stories per round into fresh archives, in-process vs 2 actors",
    )
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="exported models (default: %(default)s)")
    args = parser.parse_args(argv)

    def body(results: Results) -> None:
        try:
            import ray
        except ImportError:
            from bench.common import Skip

            raise Skip("Ray is not installed (the cluster extra: pip install '.[cluster]')") from None
        args.cache_dir.mkdir(parents=True, exist_ok=True)
        if args.ingest:
            ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
            try:
                ingest_compare(results, args.ingest, args.rounds, args.encoder, args.cache_dir)
            finally:
                ray.shutdown()
            return
        ray.init(address="local", num_cpus=3, include_dashboard=False, log_to_driver=False)
        try:
            encode, in_process = arms(args.encoder, args.cache_dir, args.batch)
            texts = reuters_texts(args.texts, in_process)
            log(f"{len(texts)} texts; {args.rounds} rounds")
            measure(results, texts, encode, in_process, args.rounds)
        finally:
            ray.shutdown()

    return run_suite("ray_embed", body)


if __name__ == "__main__":
    sys.exit(main())
