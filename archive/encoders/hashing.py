"""The `hash` encoder: deterministic word-hashing vectors without a model, for tests and demos.

Each lower-cased word (a run of letters or digits) adds +-1 to one of 384 buckets, both chosen
by the word's blake2b digest (never Python's per-process randomised `hash()`), and the sum is
L2-normalised: texts sharing words point the same way, identical texts give identical vectors
in any process. It loads no weights and imports neither torch nor onnxruntime, yet it counts
tokens with the model's own tokenizer.json, so chunking is exactly that of the real encoders.
Meaning is not captured: use it where meaning is not the point.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from archive.encoders.base import Encoder, ModelInfo
from archive.encoders.model import locate_model, model_max_tokens

HASH_DIM = 384  # all-MiniLM-L6-v2's, so a hash archive has the shape of a real one
_WORD = re.compile(r"[^\W_]+")  # letters and digits (Unicode), not the underscore \w adds
# The vector of a text without words (or whose words cancel out): a fixed unit vector.
_EMPTY = np.full(HASH_DIM, 1.0 / np.sqrt(HASH_DIM), dtype=np.float32)
_EMPTY.setflags(write=False)


def word_slot(word: str) -> tuple[int, float]:
    """(bucket, sign) of a word: from its blake2b digest, the same in every process."""
    digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
    bucket = int.from_bytes(digest[:4], "little") % HASH_DIM
    return bucket, 1.0 if digest[4] & 1 else -1.0


def hash_vector(text: str) -> np.ndarray:
    """The unit float32 vector of one text: signed counts of its hashed lower-cased words."""
    vector = np.zeros(HASH_DIM, dtype=np.float64)
    for word in _WORD.findall(text.lower()):
        bucket, sign = word_slot(word)
        vector[bucket] += sign
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:
        return _EMPTY.copy()
    return (vector / norm).astype(np.float32)


class HashEncoder(Encoder):
    """Word-hashing unit vectors (dim 384); tokens counted with the model's tokenizer (default: the bundled one)."""

    def __init__(self, model: str | None = None, *, batch_size: int = 64, query_cache_size: int = 256) -> None:
        name, path = locate_model(model)  # only its tokenizer and limit are read, never the weights
        super().__init__(path, batch_size=batch_size, query_cache_size=query_cache_size)
        self.info = ModelInfo(
            name=name, path=str(path), sha256=None, dim=HASH_DIM, max_tokens=model_max_tokens(path), backend="hash"
        )

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), HASH_DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row] = hash_vector(text)
        return out
