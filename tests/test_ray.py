"""ARCHIVE_EMBED=ray: the write path's batches on Ray actors of a local cluster (the cluster extra).

One local Ray instance for the module (2 CPUs, no dashboard), shut down at its end. The write
path runs on the hash encoder (deterministic, so an archive embedded by actors can be compared
vector for vector with one embedded in-process); the real model is used once, for the cosine of
the actors' vectors to the in-process encoder's. Skipped, with the reason, where Ray is not installed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from archive.archive import open_archive
from archive.config import Settings
from archive.encoders.base import ModelInfo
from archive.errors import ArchiveError, ModelError
from archive.readers import read_paths
from archive.store import vector_rows, writes
from archive.write import ingest, recover, reindex, writing
from tests.conftest import CORPUS
from tests.test_core import consistent
from tests.test_crash import ARTICLES, NoModel, write_corpus


def test_without_ray_the_setting_names_the_extra(monkeypatch: pytest.MonkeyPatch):
    from archive.executors import ray_executor

    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without the extra looks like
    with pytest.raises(ModelError, match=r"pip install '\.\[cluster\]'"):
        ray_executor.connect(Settings(embed="ray"))


def test_an_unknown_executor_is_refused():
    from archive.executors import executor_for

    with pytest.raises(ArchiveError, match="ARCHIVE_EMBED must be one of local, ray"):
        executor_for(SimpleNamespace(settings=Settings(embed="spark")))


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray instance for this module; yields its address (other processes join it)."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: the cluster extra (pip install '.[cluster]')")
    from archive.executors.ray_executor import close_shared

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    close_shared()
    ray.shutdown()


@pytest.fixture
def cluster(ray_cluster):
    """The module's cluster; the actors a test's writes made end with the test (they hold its 2 CPUs)."""
    from archive.executors.ray_executor import close_shared

    yield ray_cluster
    close_shared()


def ray_settings(settings: Settings, address: str) -> Settings:
    return settings.with_(embed="ray", ray_address=address, ray_actors=2, ray_threads=1)


def stored_vectors(archive) -> dict[tuple[str, str], np.ndarray]:
    """{(title, chunk text): stored vector} of a whole archive."""
    ids = archive.chunk_ids().tolist()
    with archive.engine.connect() as conn:
        texts = {cid: (title, text) for cid, text, title in writes.chunk_texts(conn, ids)}
        got, vectors = vector_rows.read_vectors(conn, ids)
    assert len(got) == len(ids)  # every committed chunk has its vector
    return {texts[int(cid)]: vector for cid, vector in zip(got, vectors, strict=True)}


def same_vectors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key, vector in a.items():
        np.testing.assert_array_equal(vector, b[key], err_msg=str(key))


@pytest.mark.integration
def test_ingest_and_reindex_on_actors_write_what_in_process_writes(cluster, settings, hash_encoder, tmp_path):
    local = open_archive(Settings(index_dir=tmp_path / "local", encoder="hash"), encoder=hash_encoder, create=True)
    ingest(local, read_paths([CORPUS]))
    remote = open_archive(ray_settings(settings, cluster), encoder=hash_encoder, create=True)
    report = ingest(remote, read_paths([CORPUS]))
    assert report.added == consistent(local)[0] and not report.failed
    assert consistent(remote) == consistent(local)
    same_vectors(stored_vectors(remote), stored_vectors(local))
    from archive.executors import executor_for

    executor = executor_for(remote)
    assert executor.name == "ray" and len({p["pid"] for p in executor.placed}) == 2  # two actors, two processes
    before = stored_vectors(remote)
    assert reindex(remote) == consistent(remote)[1]  # every chunk re-embedded by the actors
    same_vectors(stored_vectors(remote), before)
    local.close()
    remote.close()


@pytest.mark.integration
def test_actors_with_another_encoder_or_no_model_are_refused(cluster, hash_encoder, tmp_path):
    from archive.executors.ray_executor import RayExecutor

    info = hash_encoder.info
    other = ModelInfo(info.name, info.path, "0" * 64, info.dim, info.max_tokens, info.backend)
    with pytest.raises(ModelError, match="not this archive's"):
        RayExecutor(ray_settings(Settings(encoder="hash"), cluster), other)
    # A model the actors cannot load: one line with the actor's own error, not Ray's traceback.
    with pytest.raises(ModelError, match=r"could not load the hash encoder: \S*ModelError: model path \S+ is not") as e:
        RayExecutor(ray_settings(Settings(encoder="hash", model=str(tmp_path / "absent")), cluster), info)
    assert "\n" not in str(e.value)


@pytest.mark.integration
def test_a_killed_actor_is_restarted_and_its_batches_run_again(cluster, hash_encoder):
    from archive.executors.ray_executor import RayExecutor

    executor = RayExecutor(ray_settings(Settings(encoder="hash"), cluster).with_(ray_actors=1), hash_encoder.info)
    texts = [f"Grain traders met on day {i}. " * (1 + i % 7) for i in range(48)]
    batches = executor.iter_encode(texts, 8)
    done = [next(batches)]
    os.kill(executor.placed[0]["pid"], signal.SIGKILL)  # with batches in flight and still to come: Ray restarts it
    done += list(batches)
    executor.close()
    out = np.zeros((len(texts), hash_encoder.dim), dtype=np.float32)
    for rows, vectors in done:
        out[rows] = vectors
    assert sorted(int(r) for rows, _ in done for r in rows) == list(range(len(texts)))
    np.testing.assert_array_equal(out, hash_encoder.encode(texts, 8))


def ingest_process(settings: Settings, corpus: Path, address: str) -> subprocess.Popen:
    env = {
        **os.environ,
        **({"ARCHIVE_DATABASE_URL": settings.database_url} if settings.database_url else {}),
        "ARCHIVE_INDEX_DIR": str(settings.index_dir),
        "ARCHIVE_ENCODER": "hash",
        "ARCHIVE_EMBED": "ray",
        "ARCHIVE_RAY_ADDRESS": address,  # the module's cluster: no Ray start per run
        "ARCHIVE_RAY_ACTORS": "2",
        "ARCHIVE_BATCH_SIZE": "8",
        "ARCHIVE_SAVE_SECONDS": "0.05",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "archive.cli", "ingest", str(corpus), "--json", "--progress", "json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.integration
@pytest.mark.slow
def test_a_killed_ray_ingest_resumes_to_the_uninterrupted_result(cluster, settings, hash_encoder, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus)
    # Killed once a few steps are committed and more are in flight on the actors.
    proc = ingest_process(settings, corpus, cluster)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("batches_committed", 0) >= 3 and event["chunks_total"] > event["chunks_embedded"]:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    assert seen and "batches_committed" in seen[-1], "".join(seen[-5:])[-2000:]
    killed = open_archive(settings, encoder=NoModel())
    with writing(killed, timeout=0, recover_first=False):
        assert recover(killed).embedded == 0  # every committed chunk had its vector
    articles, _ = consistent(killed)
    assert 0 < articles < ARTICLES
    killed.close()
    # The next run finishes the rest; the archive is the one an uninterrupted in-process ingest makes.
    proc = ingest_process(settings, corpus, cluster)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert (json.loads(out)["added"], json.loads(out)["duplicates"]) == (ARTICLES - articles, articles)
    resumed = open_archive(settings, encoder=hash_encoder)
    reference = open_archive(
        Settings(index_dir=tmp_path / "reference", encoder="hash"), encoder=hash_encoder, create=True
    )
    ingest(reference, read_paths([corpus]))
    assert consistent(resumed) == consistent(reference)
    same_vectors(stored_vectors(resumed), stored_vectors(reference))
    resumed.close()
    reference.close()


@pytest.mark.integration
def test_actor_vectors_are_the_in_process_models(cluster, encoder, encoder_cache):
    """The real model on two actors against the same encoder in this process: cosine >= 0.99999 per text."""
    from archive.executors.ray_executor import RayExecutor

    bodies = [json.loads(line)["text"] for line in (CORPUS / "articles.jsonl").read_text().splitlines()]
    texts = [" ".join(bodies[i % len(bodies) : i % len(bodies) + 1 + i % 4]) for i in range(50)]  # 1 to 4 stories
    settings = Settings(encoder=encoder.backend, encoder_cache=encoder_cache, embed="ray", ray_address=cluster)
    executor = RayExecutor(settings, encoder.info)
    try:
        remote = executor.encode(texts, 16)
    finally:
        executor.close()
    local = encoder.encode(texts, 16)
    cosines = np.sum(remote * local, axis=1)
    assert len(cosines) == len(texts) and cosines.min() >= 0.99999, cosines.min()
