"""Sentence encoders: texts -> L2-normalised float32 vectors, by name ('onnx', 'torch', 'openvino', 'onnx-int8', 'hash').

    base.py           Encoder (what every backend shares), ModelInfo, length_order, length_batches, token_counter
                      (WordCounts: token counts summed over words, each distinct word tokenised once)
    model.py          the bundled model, its sha256 pin (hashed once per process), resolve_model
    factory.py        the encoder names and families, resolve_encoder, load_encoder, shared_encoder
    torch_encoder.py  TorchEncoder (sentence-transformers)
    onnx_export.py    the local ONNX export and int8 quantisation, cached by the weights' sha256
    pipeline.py       TokenPipeline: tokenise in, pool and normalise out, around an exported model's runtime
    onnx_encoder.py   OnnxEncoder (onnxruntime, fp32 or int8)
    openvino_encoder.py  OpenVinoEncoder (batches by OpenVINO, one query by onnxruntime; same fp32 export)
    hashing.py        HashEncoder (word hashing, no model: for tests)

Importing this package is cheap: the backend modules are imported on first use of their names
(or by `load_encoder`), and torch, sentence-transformers, onnxruntime and openvino only when an encoder
that needs them is built.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from archive.encoders.base import Encoder, ModelInfo, length_order, token_counter
from archive.encoders.factory import (
    ENCODER_FAMILIES,
    ENCODERS,
    FAMILY_ENCODER,
    NEW_ARCHIVE_ENCODER,
    encoder_family,
    load_encoder,
    resolve_encoder,
    shared_encoder,
)
from archive.encoders.model import (
    BUNDLED_MODEL_NAME,
    BUNDLED_MODEL_SHA256,
    bundled_model_path,
    file_sha256,
    model_max_tokens,
    resolve_model,
)

if TYPE_CHECKING:
    from archive.encoders.hashing import HashEncoder
    from archive.encoders.onnx_encoder import OnnxEncoder
    from archive.encoders.onnx_export import ensure_onnx_model
    from archive.encoders.openvino_encoder import OpenVinoEncoder
    from archive.encoders.torch_encoder import TorchEncoder

# The backends' names, imported from their module on first use.
_LAZY = {
    "HashEncoder": "archive.encoders.hashing",
    "OnnxEncoder": "archive.encoders.onnx_encoder",
    "OpenVinoEncoder": "archive.encoders.openvino_encoder",
    "TorchEncoder": "archive.encoders.torch_encoder",
    "ensure_onnx_model": "archive.encoders.onnx_export",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "BUNDLED_MODEL_NAME",
    "BUNDLED_MODEL_SHA256",
    "ENCODERS",
    "ENCODER_FAMILIES",
    "FAMILY_ENCODER",
    "NEW_ARCHIVE_ENCODER",
    "Encoder",
    "HashEncoder",
    "ModelInfo",
    "OnnxEncoder",
    "OpenVinoEncoder",
    "TorchEncoder",
    "bundled_model_path",
    "encoder_family",
    "ensure_onnx_model",
    "file_sha256",
    "length_order",
    "load_encoder",
    "model_max_tokens",
    "resolve_encoder",
    "resolve_model",
    "shared_encoder",
    "token_counter",
]
