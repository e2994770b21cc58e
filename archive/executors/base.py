"""The contract of an executor: the write path's batches of texts in, unit vectors out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from archive.encoders.base import ModelInfo


class Executor:
    """Encodes the write path's texts with the archive's encoder, wherever that runs.

    `iter_encode` yields (row indices, unit vectors) per model batch, in any order (the caller
    stores each batch as it comes); `encode` returns every row in input order. Both batch the
    texts longest first, as `Encoder.iter_encode` does, so a batch holds the same texts whatever
    runs it.
    """

    name: str
    info: ModelInfo  # the encoder whose vectors these are (what the archive's manifest names)

    def iter_encode(self, texts: Sequence[str], batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Embed texts in model batches of `batch_size`: yields (row indices, (n, dim) float32 unit vectors)."""
        raise NotImplementedError

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """Embed texts as an (n, dim) float32 array of unit vectors, in input order."""
        out = np.zeros((len(texts), self.info.dim), dtype=np.float32)
        for rows, vectors in self.iter_encode(texts, batch_size):
            out[rows] = vectors
        return out

    def close(self) -> None:
        """Release what the executor holds (actors); the local one holds nothing of its own."""
