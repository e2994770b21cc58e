"""The OpenVINO encoder: the exported fp32 model (`model-fp32.onnx`, the file 'onnx' runs) compiled by OpenVINO.

Batches (ingest, reindex, recover) run through OpenVINO's CPU plugin, ~2.4x onnxruntime's chunks/s
on this machine (docs/performance.md, "The OpenVINO encoder"); one query is answered by onnxruntime
on the same model file, ~10% faster than OpenVINO for one short input. Tokenising, mean pooling
and L2 normalisation are `pipeline.TokenPipeline`, as for the ONNX encoders, so the vectors are the
fp32 family's within the stated tolerance (tests/test_encoders_openvino.py).

Precision: the plugin computes in bf16 on CPUs with native bf16 (AVX512_BF16 or AMX, as here)
unless told otherwise, and that is where its speed comes from (in f32 it is ~1.2-1.3x onnxruntime):
per-text cosine to torch's fp32 vectors >= 0.99997 on Reuters text. `precision="f32"` asks for
f32 arithmetic (cosine 1.0 to 1e-7, like 'onnx').

The OpenVINO model is compiled on the first batch: a server that only answers queries never
compiles it (~1.2 s and ~220 MB; with `query_runtime="openvino"` it is compiled at once). The
onnxruntime session of the queries opens with the encoder, as the onnx encoder's does, so
`archive serve`'s warm-up (which builds the encoder) still loads it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from archive.encoders.base import Encoder, ModelInfo, length_batches
from archive.encoders.model import model_max_tokens, resolve_model
from archive.encoders.onnx_export import ensure_onnx_model
from archive.encoders.pipeline import TokenPipeline
from archive.errors import ModelError

if TYPE_CHECKING:
    from openvino import InferRequest

# How the batch model is compiled (measured on 512 Reuters chunks, docs/performance.md, "Encoders"):
# one stream with every core on each batch (LATENCY) beat two single-core streams (THROUGHPUT) fed
# two batches at once; model batches of 16-32 beat 64 (less padding); threads not pinned to cores
# (OpenVINO pins by default) ran 1.12-1.17x faster on this shared, busy machine.
PERFORMANCE_HINT = "LATENCY"
MODEL_BATCH = 32
PIN_THREADS = False
# Model batches in flight at once in a batch encode: the next batch is tokenised and queued while the model runs one,
# and a finished batch is pooled (and handed to the caller) while the model runs the next, so the model does not
# wait for Python between batches (nor for the GIL, which the ingest's other threads hold at times).
IN_FLIGHT = 2
# Who answers one query: onnxruntime (measured faster for one short input) or OpenVINO itself.
QUERY_RUNTIMES = ("onnxruntime", "openvino")


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


class OpenVinoEncoder(Encoder):
    """Unit vectors from the exported fp32 model: batches by OpenVINO (CPU), one query by onnxruntime."""

    def __init__(
        self,
        model: str | None = None,
        *,
        cache_dir: Path,
        batch_size: int = 64,
        query_cache_size: int = 256,
        threads: int | None = None,
        precision: str | None = None,
        model_batch: int = MODEL_BATCH,
        query_runtime: str = "onnxruntime",
    ) -> None:
        if query_runtime not in QUERY_RUNTIMES:
            raise ModelError(f"query_runtime must be one of {', '.join(QUERY_RUNTIMES)}, not {query_runtime!r}")
        name, path, digest = resolve_model(model)
        super().__init__(path, batch_size=batch_size, query_cache_size=query_cache_size)
        self.model_file = ensure_onnx_model(path, digest, cache_dir, int8=False)
        self.threads = threads or available_cores()
        self.model_batch = max(model_batch, 1)
        self.query_runtime = query_runtime
        self._precision_hint = precision
        max_tokens = model_max_tokens(path)
        self._pipeline = TokenPipeline(path, max_tokens)
        self._load_lock = threading.Lock()
        self._infer_lock = threading.Lock()  # one infer request: one batch at a time
        self._request: InferRequest | None = None  # the compiled model's infer request, made on first use
        self._inputs: set[str] = set()
        self._queries: Encoder | None = None
        if query_runtime == "onnxruntime":
            from archive.encoders.onnx_encoder import OnnxEncoder

            self._queries = OnnxEncoder(model, cache_dir=cache_dir, query_cache_size=0, threads=self.threads)
        # The query runtime knows the vectors' width; without it OpenVINO answers queries: compile now.
        dim = self._queries.dim if self._queries is not None else self._compile()
        self.info = ModelInfo(
            name=name, path=str(path), sha256=digest, dim=dim, max_tokens=max_tokens, backend="openvino"
        )

    @property
    def precision(self) -> str:
        """The arithmetic OpenVINO runs the model in ('bf16' or 'f32'); compiles the model if needed."""
        self._infer_request()
        return self._effective_precision

    def _compile(self) -> int:
        """Compile the model for the CPU (once); returns its output width."""
        try:
            import openvino as ov
        except ImportError as exc:  # pragma: no cover - install problem
            raise ModelError("the openvino encoder needs the openvino package (`make install` installs it)") from exc
        config: dict[str, object] = {
            "PERFORMANCE_HINT": PERFORMANCE_HINT,
            "INFERENCE_NUM_THREADS": self.threads,
            "ENABLE_CPU_PINNING": PIN_THREADS,
        }
        if self._precision_hint:
            config["INFERENCE_PRECISION_HINT"] = self._precision_hint
        try:
            compiled = ov.Core().compile_model(str(self.model_file), "CPU", config)
        except RuntimeError as exc:
            raise ModelError(f"OpenVINO cannot compile {self.model_file}: {exc}") from exc
        self._effective_precision = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        self._inputs = {n for port in compiled.inputs for n in port.get_names()}
        self._request = compiled.create_infer_request()
        return int(compiled.outputs[0].get_partial_shape()[-1].get_length())

    def _infer_request(self) -> InferRequest:
        if self._request is None:
            with self._load_lock:
                if self._request is None:
                    self._compile()
        assert self._request is not None
        return self._request

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        request = self._infer_request()
        parts = []
        for start in range(0, len(texts), self.model_batch):
            feeds = self._pipeline.inputs(texts[start : start + self.model_batch], self._inputs)
            with self._infer_lock:
                request.infer(feeds, share_inputs=True)
                parts.append(self._pipeline.vectors(request.get_output_tensor(0).data, feeds["attention_mask"]))
        return parts[0] if len(parts) == 1 else np.vstack(parts)

    def iter_encode(
        self, texts: Sequence[str], batch_size: int | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """`Encoder.iter_encode` with `IN_FLIGHT` model batches queued: the same batches, vectors and order.

        Each call has its own infer requests (the compiled model runs them one after another on its stream), so two
        encodes at once need no lock and an abandoned generator holds nothing."""
        compiled = self._infer_request().get_compiled_model()
        requests = [compiled.create_infer_request() for _ in range(IN_FLIGHT)]
        pending: list[tuple[np.ndarray, InferRequest, np.ndarray]] = []
        size = min(batch_size or self.batch_size, self.model_batch)
        try:
            for number, rows in enumerate(length_batches(texts, size)):
                if len(pending) == IN_FLIGHT:
                    yield self._finish(*pending.pop(0))
                feeds = self._pipeline.inputs([texts[i] for i in rows], self._inputs)
                request = requests[number % IN_FLIGHT]
                request.start_async(feeds, share_inputs=False)
                pending.append((rows, request, feeds["attention_mask"]))
            while pending:
                yield self._finish(*pending.pop(0))
        finally:
            for _, request, _ in pending:  # a generator closed early: let the model finish before the requests go
                request.wait()

    def _finish(self, rows: np.ndarray, request: InferRequest, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        request.wait()
        return rows, self._pipeline.vectors(request.get_output_tensor(0).data, mask)

    def _encode_one(self, text: str) -> np.ndarray:
        if self._queries is None:
            return self._encode_batch([text])[0]
        return self._queries._encode_one(text)
