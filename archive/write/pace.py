"""The ingest's step: how many chunks one transaction and one embedding pool hold (`Pace`)."""

from __future__ import annotations

MIN_STEP = 32  # chunks: the smallest step and model batch (a slow or loaded machine): one full OpenVINO batch
POOL_BATCHES = 16  # at most batch_size * this chunks are sorted by length together (64 * 16 = 1024)
RAMP_STEPS = 2  # before the model's speed is measured, steps double from the floor this many times (32 -> 128)


class Pace:
    """How many chunks one step holds: `seconds` (ARCHIVE_SAVE_SECONDS) of the embedder's measured speed.

    A step is one transaction (its articles, chunks and vectors), one embedding pool sorted by
    length, and one FAISS add; the model runs in batches of the step's texts (longest first, at
    most ARCHIVE_BATCH_SIZE each), and the saver looks after each step. A fast encoder gets big
    steps, a slow one small ones: 50 chunks at 25 chunks/s and the default 2 s, never below 32
    (smaller model batches cost more speed than the freshness they buy: ingest/raw 0.78 with steps of 8
    at ~3 chunks/s on a loaded machine). The same setting paces the
    saves, so one knob trades freshness for throughput: bigger steps sort more texts together
    (less padding: up to ~15% faster with the real model).
    """

    def __init__(self, batch_size: int, seconds: float) -> None:
        self.seconds = seconds
        self.floor = max(min(batch_size, MIN_STEP), 1)
        self.ceiling = max(batch_size, 1) * POOL_BATCHES
        self.rate: float | None = None  # chunks/s of the embedder in this run
        self.cut = 0  # steps handed to the embedder so far

    @property
    def chunks(self) -> int:
        """The step: chunks per transaction (at most) and per embedding pool.

        Until the first step's speed is measured, each step doubles the one before, up to `RAMP_STEPS`
        doublings: the first is small so the model starts at once, and the producer, which prepares
        steps ahead, does not fill the pipe with floor-sized pools (small pools pad and call the model more).
        """
        if self.rate is None:
            return min(self.ceiling, self.floor << min(self.cut, RAMP_STEPS))
        return int(min(self.ceiling, max(self.floor, self.rate * self.seconds)))

    def handed(self) -> None:
        """A step was handed to the embedder."""
        self.cut += 1

    @property
    def batch(self) -> int:
        """Model batch: the whole step, at most ARCHIVE_BATCH_SIZE (the step is encoded on its own thread)."""
        return self.chunks

    def measured(self, chunks: int, seconds: float) -> None:
        """Fold the speed of one pool into the running rate."""
        if chunks and seconds > 0:
            rate = chunks / seconds
            self.rate = rate if self.rate is None else 0.7 * self.rate + 0.3 * rate
