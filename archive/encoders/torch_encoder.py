"""The torch encoder: the model run by sentence-transformers (the reference the ONNX encoders are checked against)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from archive.encoders.base import Encoder, ModelInfo
from archive.encoders.model import resolve_model
from archive.errors import ModelError


class TorchEncoder(Encoder):
    """Turns texts into L2-normalised float32 vectors with a sentence-transformers model (torch)."""

    def __init__(
        self,
        model: str | None = None,
        *,
        batch_size: int = 64,
        query_cache_size: int = 256,
        threads: int | None = None,
        device: str = "cpu",
    ) -> None:
        name, path, digest = resolve_model(model)
        # Heavy imports (torch, transformers: seconds), only when this backend is chosen.
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the CLI draws its own progress; keep stderr clean
        hf_logging.set_verbosity_error()

        try:
            self._model = SentenceTransformer(str(path), device=device, local_files_only=True)
        except Exception as exc:  # sentence-transformers raises many types for a broken folder
            raise ModelError(f"cannot load model from {path}: {exc}") from exc
        super().__init__(path, batch_size=batch_size, query_cache_size=query_cache_size)
        dim = int(
            self._model.get_embedding_dimension()
            if hasattr(self._model, "get_embedding_dimension")
            else self._model.get_sentence_embedding_dimension()
        )
        self.info = ModelInfo(
            name=name,
            path=str(path),
            sha256=digest,
            dim=dim,
            max_tokens=int(self._model.max_seq_length),
            backend="torch",
        )
        self._lock = threading.Lock()
        self._threads = threads  # intra-op threads of a batch (default: torch's, every core)

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Embed texts as an (n, dim) float32 array of unit vectors (sorted by length inside)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._run(list(texts), batch_size or self.batch_size, threads=self._threads)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self._run(texts, len(texts), threads=self._threads)

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
                vectors = self._model.encode(
                    texts,
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            finally:
                if threads:
                    torch.set_num_threads(previous)
        return np.ascontiguousarray(vectors, dtype=np.float32)
