"""The onnx-int8 encoder: vectors close to the torch model's, the same token counting and chunking contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from archive.chunking import chunk_text, sentence_spans
from archive.config import NEW_ARCHIVE_ENCODER, Settings
from archive.embedding import load_encoder
from archive.errors import IndexMismatch, ModelError
from tests.conftest import CORPUS, SEEDS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def fp32(encoder):
    """The torch (fp32) reference: the session's encoder, unless the default backend is not torch."""
    return encoder if encoder.backend == "torch" else load_encoder(backend="torch")


@pytest.fixture(scope="session")
def int8(encoder, tmp_path_factory: pytest.TempPathFactory):
    """The int8 encoder: the session's (the default of a new archive), else exported once into a temporary cache."""
    if encoder.backend == "onnx-int8":
        return encoder
    return load_encoder(backend="onnx-int8", cache_dir=tmp_path_factory.mktemp("encoders"))


def real_sentences(limit: int = 48) -> list[str]:
    """Sentences of the seed article and the fixture corpus (real news text)."""
    bodies = [p.read_text() for p in sorted(SEEDS.glob("*.txt"))]
    bodies += [json.loads(line)["text"] for line in (CORPUS / "articles.jsonl").read_text().splitlines() if line.strip()]
    sentences = [body[a:b] for body in bodies for a, b in sentence_spans(body)]
    return [s for s in sentences if len(s.split()) >= 5][:limit]


def test_int8_vectors_match_torch(fp32, int8):
    sentences = real_sentences()
    assert len(sentences) >= 36
    a, b = fp32.encode(sentences), int8.encode(sentences)
    assert b.shape == a.shape and b.dtype == np.float32
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    cosines = (a * b).sum(axis=1)
    assert cosines.mean() >= 0.98, cosines.mean()
    # Dynamic quantisation scales activations per batch, so a text's vector depends a little
    # on its batch companions; alone or batched it must still be nearly the same.
    assert float(int8.encode_query(sentences[3]) @ b[3]) >= 0.98


def test_long_inputs_use_the_models_256_tokens_not_the_tokenizer_files_128(fp32, int8):
    body = " ".join(real_sentences(200))
    words = body.split()
    # ~240 tokens: the second half only reaches the model when truncation is at 256.
    text = " ".join(words[:180])
    assert 200 < int8.count_tokens([text])[0] + 2 <= 256
    first_half = " ".join(words[:80])
    full_torch, full_int8, half_int8 = fp32.encode([text])[0], int8.encode([text])[0], int8.encode([first_half])[0]
    assert float(full_torch @ full_int8) >= 0.97
    assert float(full_int8 @ half_int8) < float(full_torch @ full_int8)


def test_token_counting_and_chunking_contract_is_the_same(fp32, int8):
    assert int8.max_tokens == fp32.max_tokens == 256
    assert int8.dim == fp32.dim == 384
    texts = real_sentences() + ["", "disconnection", "Café owners said \u201cno\u201d."]
    assert int8.count_tokens(texts) == fp32.count_tokens(texts)
    body = (SEEDS / min(p.name for p in SEEDS.glob("*.txt"))).read_text()
    assert chunk_text(body, int8.count_tokens, max_tokens=200) == chunk_text(body, fp32.count_tokens, max_tokens=200)


def test_the_quantised_model_is_cached_by_model_sha256(int8):
    model_file: Path = int8.model_file
    assert model_file.parent.name == int8.info.sha256 and int8.info.backend == "onnx-int8"
    stamp = model_file.stat().st_mtime_ns
    again = load_encoder(backend="onnx-int8", cache_dir=model_file.parent.parent)
    assert again.model_file == model_file and model_file.stat().st_mtime_ns == stamp


def test_unknown_encoder_is_a_clear_error():
    with pytest.raises(ModelError, match="ARCHIVE_ENCODER"):
        load_encoder(backend="tensorflow")


def test_settings_make_auto_concrete():
    auto = Settings()
    assert auto.encoder == "auto"
    assert auto.for_archive(None).encoder == NEW_ARCHIVE_ENCODER == "torch"  # a new archive
    assert auto.for_archive("torch").encoder == "torch"  # an archive keeps the encoder that built it
    assert Settings(encoder="torch").for_archive("onnx-int8").encoder == "torch"  # explicit wins (then checked)
    assert Settings(index_dir=Path("x")).encoder_cache_dir == Path("x") / "encoders"
    assert Settings(encoder_cache=Path("/c")).encoder_cache_dir == Path("/c")


def test_auto_opens_a_torch_archive_with_torch_and_reindex_switches_it_to_int8(tmp_path, fp32, int8):
    """An archive opens with the encoder that built it, whatever the default; reindex converts it."""
    from archive.core import open_archive
    from archive.indexer import ingest, reindex
    from archive.readers import read_paths
    from archive.search import Searcher, SearchRequest
    from archive.vectors import read_manifest

    index_dir = tmp_path / "index"
    built = open_archive(Settings(index_dir=index_dir, encoder="torch"), encoder=fp32)
    ingest(built, read_paths([SEEDS]))
    built.close()
    assert read_manifest(index_dir).encoder == "torch"

    kept = open_archive(Settings(index_dir=index_dir), encoder=fp32)  # 'auto'
    assert kept.settings.encoder == "torch" and kept.stats().encoder == "torch"
    kept.close()
    with pytest.raises(IndexMismatch, match="ARCHIVE_ENCODER=torch or auto"):
        open_archive(Settings(index_dir=index_dir, encoder="onnx-int8"), encoder=int8)

    switching = open_archive(Settings(index_dir=index_dir, encoder="onnx-int8"), encoder=int8, verify=False)
    assert reindex(switching) == len(switching.chunk_ids())
    switching.close()
    assert read_manifest(index_dir).encoder == "onnx-int8"
    now = open_archive(Settings(index_dir=index_dir), encoder=int8)  # 'auto' follows the manifest
    assert now.settings.encoder == "onnx-int8"
    top = Searcher(now).search(SearchRequest(q="Iran camera disconnection", mode="semantic", limit=1)).results
    assert top and top[0].uid.startswith("seed-")
    now.close()
