"""The default executor: the archive's encoder, in this process."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from archive.encoders.base import Encoder
from archive.executors.base import Executor


class LocalExecutor(Executor):
    """Runs the encoder in this process (ARCHIVE_EMBED=local)."""

    name = "local"

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.info = encoder.info

    def iter_encode(self, texts: Sequence[str], batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self.encoder.iter_encode(texts, batch_size)

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        return self.encoder.encode(texts, batch_size)  # torch sorts and batches inside sentence-transformers
