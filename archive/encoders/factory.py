"""The one declaration of encoder names and families, and how a name becomes a loaded encoder.

Encoders that make the same vectors share a family; an archive can be served and extended by any
encoder of its family. 'fp32': torch and onnx (the same fp32 weights and arithmetic: cosine 1.0
to 1e-7) and openvino (the same weights; bf16 arithmetic on CPUs that have it: per-text cosine
>= 0.9999 to torch's, tests/test_encoders_openvino.py).
"""

from __future__ import annotations

import threading
from pathlib import Path

from archive.config import Settings
from archive.encoders.base import Encoder
from archive.errors import ModelError

# Every encoder name (ARCHIVE_ENCODER, the manifest's "encoder") and its family.
ENCODER_FAMILIES: dict[str, str] = {
    "onnx": "fp32",
    "torch": "fp32",
    "openvino": "fp32",
    "onnx-int8": "int8",
    "hash": "hash",
}
ENCODERS: tuple[str, ...] = tuple(ENCODER_FAMILIES)
# What 'auto' runs for each family: the fastest encoder of it (docs/performance.md, "Encoders").
# fp32: openvino (batches by OpenVINO, ~2.1-2.5x onnxruntime here, bf16 on CPUs that have it: cosine >= 0.99998
# to onnx; one query by onnxruntime, the fastest for one). It passed the gates the int8 encoder failed: SciFact
# train nDCG@10 of an archive it built equals the onnx-built one's (hybrid 0.7512 vs 0.7511, semantic 0.6893
# vs 0.6900), and the Reuters seed stays first for "Iran camera disconnection" in every mode.
FAMILY_ENCODER: dict[str, str] = {"fp32": "openvino", "int8": "onnx-int8", "hash": "hash"}
# The family of a new archive under 'auto'. Not int8: it passes the SciFact gate (nDCG@10 -0.003)
# but reorders close calls on Reuters (docs/performance.md, "The int8 encoder" under "Encoders").
NEW_ARCHIVE_ENCODER = FAMILY_ENCODER["fp32"]
# Encoders that run a locally exported model from a cache folder (<index_dir>/encoders).
CACHED_ENCODERS = frozenset({"onnx", "onnx-int8", "openvino"})

_SHARED: dict[tuple[str | None, str, int, str], Encoder] = {}
_SHARED_LOCK = threading.Lock()


def encoder_family(name: str) -> str:
    """The family of an encoder name (an unknown name is its own family, so it matches only itself)."""
    return ENCODER_FAMILIES.get(name, name)


def resolve_encoder(setting: str, recorded: str | None) -> str:
    """The concrete encoder for ARCHIVE_ENCODER `setting` and the encoder an archive `recorded` (None: new).

    'auto': the fastest encoder of the recorded family (a torch- or onnx-built archive is served
    and extended by 'openvino', the same vectors within the family's tolerance), else the
    new-archive default. An explicit name is returned as is (the manifest check then refuses
    another family); an unknown one is an error.
    """
    if setting != "auto":
        if setting not in ENCODER_FAMILIES:
            raise ModelError(f"unknown encoder {setting!r}; ARCHIVE_ENCODER must be auto, " + ", ".join(ENCODERS))
        return setting
    if recorded is None:
        return NEW_ARCHIVE_ENCODER
    return FAMILY_ENCODER.get(encoder_family(recorded), recorded)


def load_encoder(
    name: str,
    model: str | None = None,
    *,
    cache_dir: Path | None = None,
    batch_size: int = 64,
    query_cache_size: int = 256,
    threads: int | None = None,
    device: str = "cpu",
) -> Encoder:
    """A new encoder by name: 'onnx' (fp32), 'torch' (sentence-transformers), 'openvino', 'onnx-int8' or 'hash'.

    The ONNX models are exported (and quantised) once into `cache_dir`; 'openvino' compiles the
    same fp32 export. Each backend's module (and its runtime) is imported only here, when it is chosen.
    `threads` caps the runtime's intra-op threads (default: every core); `device` is torch's ('cuda' on a GPU).
    """
    if device != "cpu" and name != "torch":
        raise ModelError(f"only the torch encoder runs on {device!r}; the {name} encoder runs on the CPU")
    if name == "torch":
        from archive.encoders.torch_encoder import TorchEncoder

        return TorchEncoder(
            model, batch_size=batch_size, query_cache_size=query_cache_size, threads=threads, device=device
        )
    if name in CACHED_ENCODERS:
        if cache_dir is None:
            raise ModelError(f"the {name} encoder needs a cache directory (<index_dir>/encoders)")
        if name == "openvino":
            from archive.encoders.openvino_encoder import OpenVinoEncoder

            return OpenVinoEncoder(
                model, cache_dir=cache_dir, batch_size=batch_size, query_cache_size=query_cache_size, threads=threads
            )
        from archive.encoders.onnx_encoder import OnnxEncoder

        return OnnxEncoder(
            model,
            cache_dir=cache_dir,
            int8=name == "onnx-int8",
            batch_size=batch_size,
            query_cache_size=query_cache_size,
            threads=threads,
        )
    if name == "hash":
        from archive.encoders.hashing import HashEncoder

        return HashEncoder(model, batch_size=batch_size, query_cache_size=query_cache_size)
    raise ModelError(f"unknown encoder {name!r}; ARCHIVE_ENCODER must be one of {', '.join(ENCODERS)}")


def shared_encoder(settings: Settings) -> Encoder:
    """One encoder per (model, encoder name, batch size, cache dir) per process: the model is loaded once.

    `settings.encoder` 'auto' means a new archive's encoder here; an `Archive` resolves it
    against its manifest before it gets here.
    """
    name = resolve_encoder(settings.encoder, None)
    # The ONNX models are exported into a cache folder, so the folder is part of the key.
    cache_dir = settings.encoder_cache_dir if name in CACHED_ENCODERS else None
    key = (settings.model, name, settings.batch_size, str(cache_dir))
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = load_encoder(name, settings.model, cache_dir=cache_dir, batch_size=settings.batch_size)
        return _SHARED[key]
