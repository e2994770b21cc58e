"""The ONNX encoders: the bundled model exported to ONNX locally (`onnx_export`) and run by onnxruntime.

'onnx' runs the exported model in fp32: the same vectors as torch (cosine 1.0 to 1e-7) without
importing torch, ~4x faster for one query. 'onnx-int8' quantises its weights to int8 with
`onnxruntime.quantization.quantize_dynamic` (faster still, slightly less exact).
Inference is onnxruntime between the steps of `pipeline.TokenPipeline` (the model's own `tokenizers`
file in; mean pooling over the attention mask and L2 normalisation out), as the sentence-transformers
pipeline of all-MiniLM-L6-v2 does.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from archive.encoders.base import Encoder, ModelInfo
from archive.encoders.model import model_max_tokens, resolve_model
from archive.encoders.onnx_export import ensure_onnx_model
from archive.encoders.pipeline import TokenPipeline
from archive.errors import ModelError


class OnnxEncoder(Encoder):
    """Unit vectors from the exported model (fp32, or int8-quantised) with onnxruntime (CPU)."""

    def __init__(
        self,
        model: str | None = None,
        *,
        cache_dir: Path,
        int8: bool = False,
        batch_size: int = 64,
        query_cache_size: int = 256,
        threads: int | None = None,
    ) -> None:
        name, path, digest = resolve_model(model)
        super().__init__(path, batch_size=batch_size, query_cache_size=query_cache_size)
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - install problem
            raise ModelError("the onnx encoders need onnxruntime and onnx (`make install` installs them)") from exc
        self.model_file = ensure_onnx_model(path, digest, cache_dir, int8=int8)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        # Spinning threads burn the other core between batches and slow a lone query (~16 ms -> ~9 ms off).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(self.model_file), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        max_tokens = model_max_tokens(path)
        self._pipeline = TokenPipeline(path, max_tokens)
        dim = int(self._session.get_outputs()[0].shape[-1])
        self.info = ModelInfo(
            name=name,
            path=str(path),
            sha256=digest,
            dim=dim,
            max_tokens=max_tokens,
            backend="onnx-int8" if int8 else "onnx",
        )

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        feeds = self._pipeline.inputs(texts, self._inputs)
        tokens = self._session.run(None, feeds)[0]
        return self._pipeline.vectors(tokens, feeds["attention_mask"])
