"""What the exported-model encoders share around the runtime: tokenise in, pool and normalise out.

The sentence-transformers pipeline of all-MiniLM-L6-v2 is tokenizer -> transformer -> mean pooling
over the attention mask -> L2 normalisation. `OnnxEncoder` (onnxruntime) and `OpenVinoEncoder`
(OpenVINO) run only the transformer (the same exported `model-fp32.onnx`); this module is the rest,
so both feed the model the same inputs and make vectors from its output the same way.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

import numpy as np

from archive.errors import ModelError


def pooling_mode(model_path: Path) -> str:
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
                raise ModelError(f"{model_path}: only mean or CLS pooling is supported by the exported-model encoders")
    return "mean"


class TokenPipeline:
    """Texts -> the exported model's input arrays; its token embeddings -> L2-normalised sentence vectors."""

    def __init__(self, model_path: Path, max_tokens: int) -> None:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        pad = tokenizer.padding or {}
        # The bundled tokenizer.json truncates *and pads* to 128: set the model's real limit,
        # and pad only to the longest text of each batch.
        tokenizer.enable_truncation(max_length=max_tokens)
        tokenizer.enable_padding(
            pad_id=pad.get("pad_id", 0), pad_token=pad.get("pad_token", "[PAD]"), pad_type_id=pad.get("pad_type_id", 0)
        )
        self._tokenizer = tokenizer
        self.pooling = pooling_mode(model_path)

    def inputs(self, texts: list[str], names: Collection[str]) -> dict[str, np.ndarray]:
        """The model's int64 inputs for a batch of texts, padded to the longest: only those in `names`."""
        encoded = self._tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
        }
        if "token_type_ids" in names:
            feeds["token_type_ids"] = np.array([e.type_ids for e in encoded], dtype=np.int64)
        return feeds

    def vectors(self, tokens: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """(batch, tokens, dim) token embeddings -> (batch, dim) float32 unit vectors (mean or CLS pooling)."""
        if self.pooling == "cls":
            pooled = tokens[:, 0]
        else:
            weights = attention_mask[..., None].astype(np.float32)
            pooled = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.ascontiguousarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)
