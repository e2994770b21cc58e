"""The OpenVINO encoder: torch's (and onnx's) vectors within a stated tolerance, the same tokens, the fp32 family.

OpenVINO's CPU plugin computes in bf16 on CPUs with native bf16 (as the machine these numbers come
from: AVX512_BF16); elsewhere in f32, where it matches torch to 1e-7 like 'onnx'. The tolerance is
the bf16 one, measured here on the 50 texts below: per-text cosine to torch's vectors min 0.99998,
mean 0.999986 (the same to onnx's). Asserted: every text >= COSINE_MIN, mean >= COSINE_MEAN.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from archive.chunking import chunk_text, sentence_spans
from archive.config import Settings
from archive.encoders import encoder_family, load_encoder, resolve_encoder
from archive.errors import IndexMismatch
from tests.conftest import CORPUS, SEED_UID, SEEDS

pytestmark = pytest.mark.integration

COSINE_MIN = 0.9999  # per text, to torch's and to onnx's vectors
COSINE_MEAN = 0.99995


def news_texts() -> list[str]:
    """50 Reuters-like texts of varied length: headlines, single sentences, and runs of 3 to 24
    consecutive sentences (chunk-sized, some past 128 tokens, a few past the model's 256: truncated)."""
    records = [json.loads(line) for line in (CORPUS / "articles.jsonl").read_text().splitlines() if line.strip()]
    seed = (SEEDS / min(p.name for p in SEEDS.glob("*.txt"))).read_text()
    bodies = [seed] + [r["text"] for r in records]
    sentences = [[body[a:b] for a, b in sentence_spans(body)] for body in bodies]
    texts = [r["title"] for r in records][:8]  # short headline-like queries
    texts += [s for group in sentences for s in group if len(s.split()) >= 5][:28]
    seed_sentences = sentences[0]
    for size in (4, 6, 10, 14, 21):  # windows over the seed story (21 sentences): ~100 to ~800 tokens
        for start in (0, 5):
            texts.append(" ".join(seed_sentences[start : start + size]))
    texts.append("Café owners in Zürich said \u201cno\u201d to the 3.5% levy, per the 2023 report.")
    texts += ["IAEA", "U.S. crude stocks fell 2.1 mln barrels in the week to March 6, the API said."]
    texts.append(" ".join(r["title"] + ". " + r["text"] for r in records[:2]))
    return texts


@pytest.fixture(scope="module")
def texts(fp32) -> list[str]:
    texts = news_texts()
    counts = fp32.count_tokens(texts)
    assert len(texts) == 50 and len(set(texts)) == 50
    assert min(counts) <= 3 and sum(c > 128 for c in counts) >= 8 and sum(c > 256 for c in counts) >= 4, counts
    return texts


def test_openvino_vectors_match_torch_and_onnx_within_the_stated_tolerance(openvino, fp32, onnx, texts):
    vectors = openvino.encode(texts)
    assert vectors.shape == (50, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    for reference in (fp32.encode(texts), onnx.encode(texts)):
        cosines = (vectors * reference).sum(axis=1)
        assert cosines.min() >= COSINE_MIN, (cosines.min(), texts[int(cosines.argmin())][:80])
        assert cosines.mean() >= COSINE_MEAN, cosines.mean()
    # In bf16 a text's vector depends a little on its batch (its padded length), about as much as it
    # differs from fp32 (measured min cosine 0.999989 between batches of 64 and of 7 in another order).
    regrouped = openvino.encode(texts[::-1], batch_size=7)[::-1]
    assert (regrouped * vectors).sum(axis=1).min() >= COSINE_MIN


def test_batches_in_flight_give_the_one_at_a_time_vectors(openvino, texts):
    """`iter_encode` queues IN_FLIGHT model batches: the same batches as `length_batches`, each row once, each batch's
    vectors those of that batch alone; a generator dropped half-way leaves the encoder usable."""
    from archive.encoders.base import length_batches
    from archive.encoders.openvino_encoder import IN_FLIGHT

    assert IN_FLIGHT >= 2
    yielded = list(openvino.iter_encode(texts, 7))
    expected = length_batches(texts, min(7, openvino.model_batch))
    assert [rows.tolist() for rows, _ in yielded] == [rows.tolist() for rows in expected]
    assert sorted(i for rows, _ in yielded for i in rows) == list(range(len(texts)))
    for rows, vectors in yielded:
        assert np.array_equal(vectors, openvino._encode_batch([texts[i] for i in rows]))
    dropped = openvino.iter_encode(texts, 7)
    next(dropped)
    dropped.close()  # two batches were queued behind the one taken
    again = openvino.encode(texts, batch_size=7)
    assert np.array_equal(again[yielded[0][0]], yielded[0][1])


def test_one_query_is_answered_by_onnxruntime_and_agrees_with_the_batch_vectors(openvino, onnx, texts):
    fresh = load_encoder("openvino", cache_dir=openvino.model_file.parent.parent)
    assert fresh.query_runtime == "onnxruntime" and fresh.model_file == onnx.model_file
    query = fresh.encode_query("Tehran switches off UN watchdog surveillance equipment")
    assert fresh._request is None  # answering queries never compiled the OpenVINO model
    assert np.allclose(query, onnx.encode_query("Tehran switches off UN watchdog surveillance equipment"), atol=1e-6)
    assert float(fresh.encode_query(texts[40]) @ openvino.encode([texts[40]])[0]) >= COSINE_MIN


def test_in_f32_openvino_makes_onnxs_vectors(openvino, onnx, texts):
    """precision='f32' (what the plugin does on CPUs without bf16): the fp32 arithmetic, cosine 1.0 to 1e-6."""
    from archive.encoders.openvino_encoder import OpenVinoEncoder

    exact = OpenVinoEncoder(cache_dir=openvino.model_file.parent.parent, precision="f32", query_runtime="openvino")
    assert exact.precision == "f32"
    cosines = (exact.encode(texts) * onnx.encode(texts)).sum(axis=1)
    assert cosines.min() > 0.99999, cosines.min()
    assert float(exact.encode_query(texts[3]) @ onnx.encode_query(texts[3])) > 0.99999


def test_token_counting_and_chunking_are_the_same(openvino, fp32, texts):
    assert (openvino.max_tokens, openvino.dim, openvino.backend) == (fp32.max_tokens, fp32.dim, "openvino")
    extra = ["", "disconnection", "Café owners said \u201cno\u201d."]
    assert openvino.count_tokens(texts + extra) == fp32.count_tokens(texts + extra)
    body = (SEEDS / min(p.name for p in SEEDS.glob("*.txt"))).read_text()
    assert chunk_text(body, openvino.count_tokens, max_tokens=200) == chunk_text(
        body, fp32.count_tokens, max_tokens=200
    )


def test_openvino_serves_and_extends_an_onnx_built_archive(tmp_path, openvino, onnx, fp32):
    """The fp32 family: openvino opens an onnx-built archive, adds to it, and the mixed vectors are one
    archive's (every stored vector within the tolerance of onnx's for its text); 'auto' then serves it with openvino."""
    from archive.archive import open_archive
    from archive.readers import read_paths
    from archive.search import Searcher, SearchRequest
    from archive.store.vectors import read_manifest
    from archive.write import ingest
    from archive.write.maintain import chunk_inputs

    def top(archive, q: str) -> list[tuple[str, float]]:
        results = Searcher(archive).search(SearchRequest(q=q, mode="semantic", limit=5)).results
        return [(r.uid, r.score) for r in results]

    query = "Tehran switches off UN watchdog surveillance equipment"
    index_dir = tmp_path / "index"
    built = open_archive(Settings(index_dir=index_dir, encoder="onnx"), encoder=onnx, create=True)
    assert ingest(built, read_paths([CORPUS])).added == 12
    by_onnx = top(built, query)
    built.close()
    assert read_manifest(index_dir).encoder == "onnx"

    assert encoder_family("openvino") == encoder_family("onnx")
    served = open_archive(Settings(index_dir=index_dir, encoder="openvino"), encoder=openvino)
    assert served.settings.encoder == "openvino" and served.stats().encoder == "openvino"
    by_openvino = top(served, query)
    assert [u for u, _ in by_openvino] == [u for u, _ in by_onnx]
    assert np.allclose([s for _, s in by_openvino], [s for _, s in by_onnx], atol=1e-5)  # one query: onnxruntime
    assert ingest(served, read_paths([SEEDS])).added == 1  # extended: the seed's chunks embedded by OpenVINO
    assert top(served, "Iran camera disconnection")[0][0] == SEED_UID
    ids = served.chunk_ids().tolist()
    stored = served.vectors.vectors(ids)
    fresh = onnx.encode([text for _, text in chunk_inputs(served, ids)])
    assert (stored * fresh).sum(axis=1).min() >= COSINE_MIN
    served.close()
    assert read_manifest(index_dir).encoder == "openvino"
    assert resolve_encoder("auto", "openvino") == "openvino"  # batches by OpenVINO, one query by onnxruntime

    by_torch = open_archive(Settings(index_dir=index_dir, encoder="torch"), encoder=fp32)  # same family
    assert top(by_torch, "Iran camera disconnection")[0][0] == SEED_UID
    by_torch.close()
    with pytest.raises(IndexMismatch, match="ARCHIVE_ENCODER=auto"):
        open_archive(Settings(index_dir=index_dir, encoder="onnx-int8"))
