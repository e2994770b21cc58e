"""The ONNX encoders: the bundled model exported to ONNX locally (`onnx_export`) and run by onnxruntime.

'onnx' runs the exported model in fp32: the same vectors as torch (cosine 1.0 to 1e-7) without
importing torch, ~4x faster for one query. 'onnx-int8' quantises its weights to int8 with
`onnxruntime.quantization.quantize_dynamic` (faster still, slightly less exact).
Inference is onnxruntime plus the model's own `tokenizers` file, then mean pooling over the
attention mask and L2 normalisation, as the sentence-transformers pipeline of all-MiniLM-L6-v2 does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from archive.encoders.base import Encoder, ModelInfo
from archive.encoders.model import model_max_tokens, resolve_model
from archive.encoders.onnx_export import ensure_onnx_model
from archive.errors import ModelError


def _pooling_mode(model_path: Path) -> str:
    """'mean' or 'cls', from the model's sentence-transformers pooling config."""
    modules = model_path / "modules.json"
    if modules.is_file():
        for module in json.loads(modules.read_text()):
            if module.get("type", "").endswith("Pooling"):
                config = json.loads((model_path / module["path"] / "config.json").read_text())
                if config.get("pooling_mode_cls_token"):
                    return "cls"
                if config.get("pooling_mode_mean_tokens"):
                    return "mean"
                raise ModelError(f"{model_path}: only mean or CLS pooling is supported by the onnx encoders")
    return "mean"


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
            from tokenizers import Tokenizer
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
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        pad = tokenizer.padding or {}
        # The bundled tokenizer.json truncates *and pads* to 128: set the model's real limit,
        # and pad only to the longest text of each batch.
        tokenizer.enable_truncation(max_length=max_tokens)
        tokenizer.enable_padding(
            pad_id=pad.get("pad_id", 0), pad_token=pad.get("pad_token", "[PAD]"), pad_type_id=pad.get("pad_type_id", 0)
        )
        self._tokenizer = tokenizer
        self._pooling = _pooling_mode(path)
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
        encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.array([e.type_ids for e in encoded], dtype=np.int64)
        tokens = self._session.run(None, feeds)[0]
        if self._pooling == "cls":
            pooled = tokens[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            pooled = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.ascontiguousarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)
