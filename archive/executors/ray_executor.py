"""ARCHIVE_EMBED=ray: the write path's model batches run on Ray actors, each holding one copy of the encoder.

The driver (the `archive ingest` or `archive reindex` process) connects to a Ray cluster
(ARCHIVE_RAY_ADDRESS: by default a local instance it starts), creates ARCHIVE_RAY_ACTORS actors
of ARCHIVE_RAY_THREADS CPUs (and ARCHIVE_RAY_GPUS GPUs) each, and keeps them for the process: the
model is loaded once per actor. Every actor must report the encoder the archive's manifest
requires (backend, weights' sha256, dimension), so the vectors are the archive's family.

A step's texts are cut into the same length-ordered model batches as in-process; each actor
holds up to two batches (one running, one queued), and a batch's vectors come back to the driver,
which writes them through the normal write path (SQL, then the index). Nothing is written by an
actor, so a dead actor or driver loses at most the batches in flight, never a half-written step:
Ray restarts a dead actor (its node lost, the process killed) and runs its batches again
(encoding is idempotent), a few times, before the step fails with a `ModelError`; a killed driver
takes its actors with it and the next run resumes from what was committed (docs/deployment.md).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from archive.config import Settings
from archive.encoders.base import ModelInfo, length_batches
from archive.encoders.factory import CACHED_ENCODERS
from archive.errors import ModelError
from archive.executors.base import Executor

IN_FLIGHT_PER_ACTOR = 2  # batches an actor holds: one running, one queued behind it (no idle round trip)
MAX_RESTARTS = 3  # times Ray restarts a dead actor, and retries its batches, before the step fails
START_SECONDS = 300.0  # actors must be placed and have their model loaded within this
BATCH_SECONDS = 600.0  # some batch must come back within this, else the step fails (a cluster without room)

_SHARED: dict[tuple, RayExecutor] = {}
_SHARED_LOCK = threading.Lock()


def _ray() -> Any:
    """The ray module, or a clear error naming the extra that installs it."""
    try:
        import ray
    except ImportError as exc:
        raise ModelError(
            "ARCHIVE_EMBED=ray needs Ray: install the cluster extra (pip install '.[cluster]'), "
            "or set ARCHIVE_EMBED=local"
        ) from exc
    return ray


def connect(settings: Settings) -> Any:
    """Join the configured Ray cluster once per process (a process already connected keeps its connection)."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if settings.ray_address == "local":  # a Ray instance of this process: room for every actor asked for
        cpus = max(os.cpu_count() or 1, settings.ray_actors * settings.ray_threads)
        options.update(address="local", num_cpus=cpus, include_dashboard=False)
    else:
        options["address"] = settings.ray_address
    try:
        ray.init(**options)
    except Exception as exc:  # ConnectionError, ValueError, RuntimeError: Ray's, for a bad or absent address
        raise ModelError(
            f"cannot join the Ray cluster at {settings.ray_address!r} (ARCHIVE_RAY_ADDRESS): {exc}"
        ) from exc
    return ray


def reason(exc: BaseException) -> str:
    """One line for a Ray error: the exception raised in the actor (the last 'XError: message' line), else the first."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    raised = [line.strip() for line in text.splitlines() if re.match(r"^\s*[\w.]*(Error|Exception): ", line)]
    return raised[-1] if raised else (text.strip().splitlines() or [type(exc).__name__])[0]


def usable_cache(path: str | None) -> Path | None:
    """The exported models' folder on this node: the configured one where it can be written, else a temp folder.

    On a cluster the driver's data directory is usually not on the workers; the export is keyed by
    the weights' sha256, so a worker's own folder holds the same model file.
    """
    if path is None:
        return None
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK):
            return folder
    except OSError:
        pass
    return Path(tempfile.gettempdir()) / "archive-encoders"


class EncoderActor:
    """One copy of the encoder in a Ray worker process (made a Ray actor by `RayExecutor`)."""

    def __init__(self, name: str, model: str | None, cache_dir: str | None, threads: int, device: str) -> None:
        from archive.encoders.factory import load_encoder

        self.encoder = load_encoder(name, model, cache_dir=usable_cache(cache_dir), threads=threads, device=device)

    def info(self) -> dict[str, Any]:
        """The loaded encoder's identity, and where it runs."""
        import socket

        return {**asdict(self.encoder.info), "host": socket.gethostname(), "pid": os.getpid()}

    def encode(self, texts: list[str]) -> np.ndarray:
        """One model batch (the driver sorted it by length) -> (n, dim) float32 unit vectors."""
        return self.encoder.encode(texts, max(len(texts), 1))


class RayExecutor(Executor):
    """The write path's batches on Ray actors (ARCHIVE_EMBED=ray); build with `shared_ray_executor`."""

    name = "ray"

    def __init__(self, settings: Settings, expected: ModelInfo) -> None:
        ray = connect(settings)
        if settings.ray_gpus > 0 and expected.backend != "torch":
            raise ModelError(
                f"ARCHIVE_RAY_GPUS={settings.ray_gpus:g} runs the torch encoder on CUDA, but this archive's encoder is "
                f"{expected.backend!r}: set ARCHIVE_ENCODER=torch (the same fp32 vectors) or ARCHIVE_RAY_GPUS=0"
            )
        self.info = expected
        self.settings = settings
        cache = str(settings.encoder_cache_dir) if expected.backend in CACHED_ENCODERS else None
        actor_class = ray.remote(EncoderActor).options(
            num_cpus=settings.ray_threads,
            num_gpus=settings.ray_gpus,
            max_restarts=MAX_RESTARTS,
            max_task_retries=MAX_RESTARTS,
        )
        device = "cuda" if settings.ray_gpus > 0 else "cpu"
        self.actors = [
            actor_class.remote(expected.backend, settings.model, cache, settings.ray_threads, device)
            for _ in range(settings.ray_actors)
        ]
        try:
            self.placed = self._check(ray)
        except BaseException:
            self.close()
            raise

    def _check(self, ray: Any) -> list[dict[str, Any]]:
        """Wait for every actor's model; each must be the archive's encoder (backend, weights, dimension)."""
        s = self.settings
        try:
            infos = ray.get([a.info.remote() for a in self.actors], timeout=START_SECONDS)
        except ray.exceptions.GetTimeoutError as exc:
            raise ModelError(
                f"the Ray cluster ({s.ray_address}) did not start {s.ray_actors} encoder actors of "
                f"{s.ray_threads} CPU(s) and {s.ray_gpus:g} GPU(s) each within {START_SECONDS:.0f} s: "
                "too few free resources? (`ray status` lists them)"
            ) from exc
        except ray.exceptions.RayError as exc:
            raise ModelError(
                f"a Ray encoder actor could not load the {self.info.backend} encoder: {reason(exc)}"
            ) from exc
        want = (self.info.backend, self.info.sha256, self.info.dim)
        for info in infos:
            got = (info["backend"], info["sha256"], info["dim"])
            if got != want:
                raise ModelError(
                    f"the Ray actor on {info['host']} loaded encoder {got} (backend, weights sha256, dim), "
                    f"not this archive's {want}: install the same model on every node (docs/deployment.md)"
                )
        return infos

    def iter_encode(self, texts: Sequence[str], batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The length-ordered batches spread over the actors, each yielded as it comes back."""
        ray = _ray()
        batches = length_batches(texts, batch_size)
        load = [0] * len(self.actors)
        pending: dict[Any, tuple[np.ndarray, int]] = {}  # object ref -> (rows, actor)
        sent = 0
        while sent < len(batches) or pending:
            while sent < len(batches) and min(load) < IN_FLIGHT_PER_ACTOR:
                actor = load.index(min(load))
                rows = batches[sent]
                pending[self.actors[actor].encode.remote([texts[i] for i in rows])] = (rows, actor)
                load[actor] += 1
                sent += 1
            done, _ = ray.wait(list(pending), num_returns=1, timeout=BATCH_SECONDS)
            if not done:
                raise ModelError(
                    f"no batch came back from the Ray encoder actors in {BATCH_SECONDS:.0f} s; "
                    "nothing of the batches in flight was written: run the command again, it resumes"
                )
            rows, actor = pending.pop(done[0])
            load[actor] -= 1
            try:
                vectors = ray.get(done[0])
            except ray.exceptions.RayError as exc:
                raise ModelError(
                    f"a Ray encoder actor failed after {MAX_RESTARTS} restarts ({reason(exc)}); nothing of "
                    "the batches in flight was written: run the command again, it resumes"
                ) from exc
            yield rows, vectors

    def close(self) -> None:
        """End the actors (their models); a later write makes new ones."""
        ray = _ray()
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
        with _SHARED_LOCK:
            for key in [k for k, v in _SHARED.items() if v is self]:
                del _SHARED[key]


def shared_ray_executor(settings: Settings, expected: ModelInfo) -> RayExecutor:
    """The process's one executor (one set of actors), kept while the cluster connection, the encoder and the
    actors' shape stay the same; another encoder or shape replaces it (its actors end, freeing their resources)."""
    ray = connect(settings)
    key = (
        ray.get_runtime_context().get_job_id(),
        expected.backend,
        expected.sha256,
        settings.model,
        str(settings.encoder_cache_dir),
        settings.ray_actors,
        settings.ray_threads,
        settings.ray_gpus,
    )
    with _SHARED_LOCK:
        executor = _SHARED.get(key)
        if executor is not None:
            return executor
        stale = list(_SHARED.values())
    for old in stale:
        old.close()
    with _SHARED_LOCK:
        executor = _SHARED.get(key)
        if executor is None:
            executor = _SHARED[key] = RayExecutor(settings, expected)
        return executor


def close_shared() -> None:
    """End every shared executor's actors (before `ray.shutdown()`, e.g. at the end of a test module)."""
    with _SHARED_LOCK:
        executors = list(_SHARED.values())
    for executor in executors:
        executor.close()
