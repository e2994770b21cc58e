"""The ONNX encoders: fp32 makes torch's vectors, int8 comes close; same token counting and chunking; encoder families."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from archive.chunking import chunk_text, sentence_spans
from archive.config import Settings
from archive.encoders import NEW_ARCHIVE_ENCODER, encoder_family, load_encoder, resolve_encoder
from archive.errors import IndexMismatch, ModelError
from tests.conftest import CORPUS, SEEDS

pytestmark = pytest.mark.integration


def real_sentences(limit: int = 48) -> list[str]:
    """Sentences of the seed article and the fixture corpus (real news text)."""
    bodies = [p.read_text() for p in sorted(SEEDS.glob("*.txt"))]
    bodies += [
        json.loads(line)["text"] for line in (CORPUS / "articles.jsonl").read_text().splitlines() if line.strip()
    ]
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
    again = load_encoder("onnx-int8", cache_dir=model_file.parent.parent)
    assert again.model_file == model_file and model_file.stat().st_mtime_ns == stamp


def test_unknown_encoder_is_a_clear_error():
    with pytest.raises(ModelError, match="ARCHIVE_ENCODER"):
        load_encoder("tensorflow")


def test_onnx_fp32_makes_the_same_vectors_as_torch(fp32, onnx):
    sentences = real_sentences() + ["Iran camera disconnection", "a" * 3000]
    cosines = (fp32.encode(sentences) * onnx.encode(sentences)).sum(axis=1)
    assert cosines.min() > 0.99999, cosines.min()  # the same model and arithmetic, not an approximation
    assert np.allclose(
        fp32.encode_query("Tehran switches off UN watchdog"),
        onnx.encode_query("Tehran switches off UN watchdog"),
        atol=1e-5,
    )
    assert onnx.info.backend == "onnx" and onnx.model_file.name == "model-fp32.onnx"


def test_settings_make_auto_concrete():
    auto = Settings()
    assert auto.encoder == "auto"
    assert resolve_encoder(auto.encoder, None) == NEW_ARCHIVE_ENCODER == "openvino"  # a new archive
    assert resolve_encoder("auto", "torch") == "openvino"  # the same family, faster batches
    assert resolve_encoder("auto", "onnx") == "openvino"
    assert resolve_encoder("auto", "openvino") == "openvino"  # bf16 vectors of the fp32 family
    assert resolve_encoder("onnx", "openvino") == "onnx"
    assert resolve_encoder("auto", "onnx-int8") == "onnx-int8"  # int8 vectors need the int8 model
    assert resolve_encoder("auto", "hash") == "hash"
    assert resolve_encoder("torch", "onnx") == "torch"  # explicit wins (then checked)
    assert (
        encoder_family("torch") == encoder_family("onnx") == encoder_family("openvino") != encoder_family("onnx-int8")
    )
    assert encoder_family("hash") not in {encoder_family("onnx"), encoder_family("onnx-int8")}
    with pytest.raises(ModelError, match="ARCHIVE_ENCODER must be auto, onnx, torch, openvino, onnx-int8, hash"):
        resolve_encoder("tensorflow", "torch")
    assert Settings(index_dir=Path("x")).encoder_cache_dir == Path("x") / "encoders"
    assert Settings(encoder_cache=Path("/c")).encoder_cache_dir == Path("/c")


def test_a_torch_archive_is_served_by_onnx_and_reindex_converts_it_to_int8(tmp_path, fp32, onnx, int8):
    """onnx serves a torch-built archive (same family: same top-5, same scores); reindex converts it to int8,
    which 'auto' then follows. (an openvino-built fp32 archive is served by onnx under 'auto': tests/test_encoders_openvino.py.)"""
    from archive.archive import open_archive
    from archive.readers import read_paths
    from archive.search import Searcher, SearchRequest
    from archive.store.vectors import read_manifest
    from archive.write import ingest, reindex

    def top(archive, q: str) -> list[tuple[str, float]]:
        results = Searcher(archive).search(SearchRequest(q=q, mode="semantic", limit=5)).results
        return [(r.uid, r.score) for r in results]

    index_dir = tmp_path / "index"
    built = open_archive(Settings(index_dir=index_dir, encoder="torch"), encoder=fp32, create=True)
    ingest(built, read_paths([SEEDS, CORPUS]))
    by_torch = top(built, "Tehran switches off UN watchdog surveillance equipment")
    built.close()
    assert read_manifest(index_dir).encoder == "torch"

    served = open_archive(Settings(index_dir=index_dir, encoder="onnx"), encoder=onnx)
    assert served.settings.encoder == "onnx" and served.stats().encoder == "onnx"
    by_onnx = top(served, "Tehran switches off UN watchdog surveillance equipment")
    assert [u for u, _ in by_onnx] == [u for u, _ in by_torch]
    assert np.allclose([s for _, s in by_onnx], [s for _, s in by_torch], atol=1e-5)
    served.close()
    with pytest.raises(IndexMismatch, match="ARCHIVE_ENCODER=auto"):
        open_archive(Settings(index_dir=index_dir, encoder="onnx-int8"), encoder=int8)

    switching = open_archive(Settings(index_dir=index_dir, encoder="onnx-int8"), encoder=int8, verify=False)
    assert reindex(switching) == len(switching.chunk_ids())
    switching.close()
    assert read_manifest(index_dir).encoder == "onnx-int8"
    now = open_archive(Settings(index_dir=index_dir), encoder=int8)  # 'auto' follows the manifest
    assert now.settings.encoder == "onnx-int8"
    assert top(now, "Iran camera disconnection")[0][0].startswith("seed-")
    now.close()
    with pytest.raises(IndexMismatch, match="ARCHIVE_ENCODER=auto"):
        open_archive(Settings(index_dir=index_dir, encoder="torch"), encoder=fp32)
