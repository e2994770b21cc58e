"""The local ONNX export of a model: torch -> ONNX (fp32), quantised to int8, cached by the weights' sha256.

Nothing is downloaded. The first use exports the model with `torch.onnx.export` (and quantises
it) and caches the result under `<index_dir>/encoders/<model sha256>/`; later uses only load
that file. torch and onnxruntime are imported only to build the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from filelock import FileLock

INT8_FILE = "model-int8.onnx"
FP32_FILE = "model-fp32.onnx"
RECIPE_FILE = "recipe.json"
# Bump when the export or quantisation changes: a cached model from another recipe is rebuilt.
RECIPE = {
    "version": 1,
    "opset": 17,
    "weights": "QInt8",
    "per_channel": True,
    "matmul_const_b_only": True,
    "attention": "eager",
}
OPSET = 17


def cache_key(model_path: Path, sha256: str | None) -> str:
    """Folder name of a model's cache: its weights' sha256 (or a hash of its path when it has none)."""
    return sha256 or "path-" + hashlib.sha256(str(model_path).encode()).hexdigest()[:32]


def ensure_onnx_model(model_path: Path, sha256: str | None, cache_dir: Path, *, int8: bool) -> Path:
    """The cached ONNX file of a model (fp32, or int8), exporting and quantising it first if needed."""
    folder = Path(cache_dir) / cache_key(model_path, sha256)
    target = folder / (INT8_FILE if int8 else FP32_FILE)
    if _cached(folder):
        return target
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Two processes opening the same archive must not export twice into the same folder.
    with FileLock(str(folder) + ".lock", timeout=600):
        if _cached(folder):
            return target
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".export-"))
        try:
            fp32 = staging / FP32_FILE
            _export(model_path, fp32)
            _quantize(fp32, staging / INT8_FILE)  # both variants in one export: ~3 s more, 23 MB
            (staging / RECIPE_FILE).write_text(json.dumps({**RECIPE, "model_sha256": sha256}, indent=2))
            if folder.exists():
                shutil.rmtree(folder)  # a cache from another recipe
            os.replace(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _cached(folder: Path) -> bool:
    try:
        recipe = json.loads((folder / RECIPE_FILE).read_text())
    except (OSError, ValueError):
        return False
    files = (folder / INT8_FILE).is_file() and (folder / FP32_FILE).is_file()
    return files and {k: recipe.get(k) for k in RECIPE} == RECIPE


def _export(model_path: Path, out: Path) -> None:
    """Export the transformer (token embeddings out) to ONNX with dynamic batch and sequence axes."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    # Eager attention traces to plain ops; the padded example makes the trace keep the mask path.
    model = AutoModel.from_pretrained(str(model_path), attn_implementation="eager", local_files_only=True)
    model.eval()

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    ids = torch.full((2, 16), 1000, dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    mask[1, 9:] = 0
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter warns about itself and about traced Python branches; the
        # result is checked against torch by tests/test_encoders_onnx.py instead.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            TokenEmbeddings(model),
            (ids, mask, torch.zeros_like(ids)),
            str(out),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["token_embeddings"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "token_embeddings": axes},
            opset_version=OPSET,
            dynamo=False,
        )


def _quantize(fp32: Path, out: Path) -> None:
    """int8 weights, per output channel (per-tensor loses ~5% cosine on this model), activations at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it logs a "consider pre-processing" hint on the root logger
    try:
        quantize_dynamic(
            str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True, extra_options={"MatMulConstBOnly": True}
        )
    finally:
        root.setLevel(level)
