"""The `hash` encoder: deterministic model-free vectors with the real token counting, enough to run an archive."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from archive.chunking import chunk_text
from archive.encoders import (
    BUNDLED_MODEL_SHA256,
    ENCODERS,
    HashEncoder,
    bundled_model_path,
    encoder_family,
    load_encoder,
    resolve_encoder,
)
from tests.conftest import PROJECT_ROOT, SEED_UID, SEEDS

SENTENCES = [
    "Iran disconnected 27 IAEA surveillance cameras on Thursday.",
    "Oil prices rose as OPEC+ kept output steady.",
    "Café owners said \u201cno\u201d to the new rules.",
    "disconnection",
    "",
]


@pytest.fixture(scope="module")
def hashed() -> HashEncoder:
    encoder = load_encoder("hash")
    assert isinstance(encoder, HashEncoder)
    return encoder


def seed_body() -> str:
    return (SEEDS / min(p.name for p in SEEDS.glob("*.txt"))).read_text()


def test_vectors_are_deterministic_unit_float32_of_dim_384(hashed):
    other = HashEncoder()
    texts = [*SENTENCES, seed_body()]
    a, b = hashed.encode(texts), other.encode(texts)
    assert a.shape == (len(texts), 384) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(hashed.encode_query(texts[0]), a[0])  # a batch and a lone query agree
    assert np.array_equal(hashed.encode([""])[0], hashed.encode(["  -- !"])[0])  # no words: one fixed unit vector
    assert (hashed.dim, hashed.max_tokens, hashed.backend) == (384, 256, "hash")
    assert "hash" in ENCODERS and encoder_family("hash") == "hash" and resolve_encoder("auto", "hash") == "hash"


def test_texts_sharing_words_are_closer_than_unrelated_ones(hashed):
    base, shared, unrelated = hashed.encode(
        [
            "Iran disconnects IAEA cameras at nuclear sites",
            "IAEA says Iran cameras at nuclear sites were switched off",
            "Wheat harvest forecast lowered after a dry spring",
        ]
    )
    assert float(base @ shared) > 0.3
    assert float(base @ shared) > float(base @ unrelated) + 0.2
    assert np.array_equal(*hashed.encode(["Iran, IAEA!", "iran iaea"]))  # lower-cased words; punctuation ignored


def reference_counter(encoder_cache: Path):
    """The onnx encoder's `count_tokens` when this session already exported the model (then loading it is
    cheap), else an independent count with a `tokenizers.Tokenizer` from the bundled tokenizer.json."""
    if (encoder_cache / BUNDLED_MODEL_SHA256 / "model-fp32.onnx").is_file():
        return load_encoder("onnx", cache_dir=encoder_cache).count_tokens
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(bundled_model_path() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda texts: [len(e.ids) for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]


def test_token_counts_and_chunks_are_those_of_the_real_encoders(hashed, encoder_cache):
    reference = reference_counter(encoder_cache)
    body = seed_body()
    long_text = " ".join(body.split()[:200])  # past the 128 tokens the bundled tokenizer.json truncates at
    texts = [*SENTENCES, long_text]
    counts = hashed.count_tokens(texts)
    assert counts == reference(texts)
    assert counts[-1] > 128 and counts[-2] == 0
    assert chunk_text(body, hashed.count_tokens, max_tokens=200) == chunk_text(body, reference, max_tokens=200)


ARCHIVE_SCRIPT = """
import json, sys
from pathlib import Path

import archive
from archive.config import Settings
from archive.archive import open_archive
from archive.encoders.hashing import hash_vector
from archive.errors import IndexMismatch
from archive.write import ingest
from archive.readers import read_paths
from archive.search import Searcher, SearchRequest
from archive.store.vectors import read_manifest

index_dir, seeds = Path(sys.argv[1]), Path(sys.argv[2])
settings = Settings.from_env(index_dir=index_dir, rate_limit="off")  # ARCHIVE_ENCODER=hash
built = open_archive(settings, create=True)
report = ingest(built, read_paths([seeds]))
built.close()
served = open_archive(Settings(index_dir=index_dir, rate_limit="off"))  # 'auto' follows the manifest
results = Searcher(served).search(SearchRequest(q="Iran camera disconnection", mode="semantic", limit=3)).results
try:
    open_archive(Settings(index_dir=index_dir, encoder="onnx"))
    refused = False
except IndexMismatch:
    refused = True
print(json.dumps({
    "package": archive.__file__, "encoder": settings.encoder, "served_by": served.settings.encoder,
    "manifest": read_manifest(index_dir).encoder, "added": report.added, "failed": len(report.failed),
    "hits": [(r.uid, r.score) for r in results], "refused_onnx": refused,
    "vector": hash_vector("Iran camera disconnection").tolist(),
    "loaded": sorted(m for m in ("torch", "onnxruntime", "openvino", "sentence_transformers", "transformers") if m in sys.modules),
}))
"""


def test_an_archive_with_the_hash_encoder_ingests_and_searches_without_torch(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    env.update(
        ARCHIVE_ENCODER="hash",
        ARCHIVE_ENCODER_CACHE=str(tmp_path / "encoders"),
        PYTHONHASHSEED="random",
        PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")])),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    proc = subprocess.run(
        [sys.executable, "-c", ARCHIVE_SCRIPT, str(tmp_path / "index"), str(SEEDS)],
        check=False,
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert Path(out["package"]).resolve().is_relative_to(PROJECT_ROOT)
    assert out["loaded"] == []  # no torch, onnxruntime, openvino or transformers: no model was loaded
    assert (out["encoder"], out["served_by"], out["manifest"]) == ("hash", "hash", "hash")
    assert (out["added"], out["failed"]) == (1, 0)
    uid, score = out["hits"][0]
    assert uid == SEED_UID and score > 0
    assert out["refused_onnx"]  # another family's vectors: the manifest check refuses them
    # The same vector in another process (another PYTHONHASHSEED): nothing depends on Python's hash().
    assert np.array_equal(
        np.asarray(out["vector"], dtype=np.float32), HashEncoder().encode_query("Iran camera disconnection")
    )
