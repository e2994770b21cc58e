"""The ONNX encoders: the bundled model exported to ONNX locally and run by onnxruntime.

'onnx' runs the exported model in fp32: the same vectors as torch (cosine 1.0 to 1e-7) without
importing torch, ~4x faster for one query. 'onnx-int8' quantises its weights to int8 with
`onnxruntime.quantization.quantize_dynamic` (faster still, slightly less exact).
Nothing is downloaded. The first use exports the model with `torch.onnx.export` (and quantises
it) and caches the result under `<index_dir>/encoders/<model sha256>/`; later uses only load that file. Inference is
onnxruntime plus the model's own `tokenizers` file, then mean pooling over the attention
mask and L2 normalisation, as the sentence-transformers pipeline of all-MiniLM-L6-v2 does.
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

import numpy as np
from filelock import FileLock

from archive.embedding import BaseEncoder, ModelInfo, model_max_tokens, resolve_model
from archive.errors import ModelError

INT8_FILE = "model-int8.onnx"
FP32_FILE = "model-fp32.onnx"
RECIPE_FILE = "recipe.json"
# Bump when the export or quantisation changes: a cached model from another recipe is rebuilt.
RECIPE = {"version": 1, "opset": 17, "weights": "QInt8", "per_channel": True, "matmul_const_b_only": True,
          "attention": "eager"}
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

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    ids = torch.full((2, 16), 1000, dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    mask[1, 9:] = 0
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter warns about itself and about traced Python branches; the
        # result is checked against torch by tests/test_encoders_onnx.py instead.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            TokenEmbeddings(model), (ids, mask, torch.zeros_like(ids)), str(out),
            input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["token_embeddings"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "token_embeddings": axes},
            opset_version=OPSET, dynamo=False,
        )


def _quantize(fp32: Path, out: Path) -> None:
    """int8 weights, per output channel (per-tensor loses ~5% cosine on this model), activations at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it logs a "consider pre-processing" hint on the root logger
    try:
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True,
                         extra_options={"MatMulConstBOnly": True})
    finally:
        root.setLevel(level)


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


class OnnxEncoder(BaseEncoder):
    """Unit vectors from the exported model (fp32, or int8-quantised) with onnxruntime (CPU)."""

    def __init__(self, model: str | None = None, *, cache_dir: Path, int8: bool = False, batch_size: int = 64,
                 query_cache_size: int = 256, threads: int | None = None) -> None:
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
        tokenizer.enable_padding(pad_id=pad.get("pad_id", 0), pad_token=pad.get("pad_token", "[PAD]"),
                                 pad_type_id=pad.get("pad_type_id", 0))
        self._tokenizer = tokenizer
        self._pooling = _pooling_mode(path)
        dim = int(self._session.get_outputs()[0].shape[-1])
        self.info = ModelInfo(name=name, path=str(path), sha256=digest, dim=dim, max_tokens=max_tokens,
                              backend="onnx-int8" if int8 else "onnx")

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
