"""Every setting declared once: name, default, environment variable and help.

Only this module reads the environment. Everything else receives a `Settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_INDEX_DIR = "index"


def _setting(default: Any, env: str, help: str) -> Any:
    return field(default=default, metadata={"env": env, "help": help})


@dataclass(frozen=True)
class Settings:
    """Archive configuration; build with `Settings.from_env()` or `Settings(...)`."""

    index_dir: Path = _setting(
        Path(DEFAULT_INDEX_DIR), "ARCHIVE_INDEX_DIR", "Data directory (SQLite db, FAISS index, manifest)."
    )
    database_url: str | None = _setting(
        None,
        "ARCHIVE_DATABASE_URL",
        "SQLAlchemy URL: SQLite (default: archive.db in the index directory) or PostgreSQL "
        "(postgresql+psycopg://user:password@host/dbname).",
    )
    model: str | None = _setting(
        None, "ARCHIVE_MODEL", "Path of a sentence-transformers model; default: the bundled all-MiniLM-L6-v2."
    )
    encoder: str = _setting(
        "auto",
        "ARCHIVE_ENCODER",
        "Encoder: 'auto' (the fastest one making the vectors an archive holds; 'onnx' for a new one), "
        "'onnx' (fp32 via onnxruntime), 'torch' (sentence-transformers, fp32, the same vectors), "
        "'onnx-int8' (quantised: faster, slightly less exact); "
        "'hash': deterministic word-hashing vectors without a model, for tests.",
    )
    encoder_cache: Path | None = _setting(
        None,
        "ARCHIVE_ENCODER_CACHE",
        "Folder of the locally exported ONNX models; default: 'encoders' in the index directory.",
    )
    batch_size: int = _setting(64, "ARCHIVE_BATCH_SIZE", "Chunks per embedding batch.")
    ann_threshold: int = _setting(
        100_000,
        "ARCHIVE_ANN_THRESHOLD",
        "Vectors above which the FAISS index becomes HNSW (approximate); exact below "
        "(exact search costs ~10 ms per 100,000 vectors on one core).",
    )
    save_seconds: float = _setting(
        30.0,
        "ARCHIVE_SAVE_SECONDS",
        "During a long write, save the vector index at most this often (at least 20x the last save's duration).",
    )
    chunk_tokens: int = _setting(
        200, "ARCHIVE_CHUNK_TOKENS", "Target chunk size in model tokens (hard cap: the model's limit)."
    )
    chunk_overlap_sentences: int = _setting(1, "ARCHIVE_CHUNK_OVERLAP", "Sentences shared by consecutive chunks.")
    rrf_k: int = _setting(60, "ARCHIVE_RRF_K", "Reciprocal rank fusion constant k.")
    keyword_weight: float = _setting(1.0, "ARCHIVE_KEYWORD_WEIGHT", "Weight of the keyword ranking in hybrid fusion.")
    semantic_weight: float = _setting(
        1.0, "ARCHIVE_SEMANTIC_WEIGHT", "Weight of the semantic ranking in hybrid fusion."
    )
    candidates: int = _setting(
        300, "ARCHIVE_CANDIDATES", "Candidates per side before fusion: articles (keyword), chunks (semantic)."
    )
    fusion: str = _setting(
        "zscore",
        "ARCHIVE_FUSION",
        "Hybrid fusion: 'zscore' or 'minmax' (normalised score mix, weighted) or 'rrf' (reciprocal rank).",
    )
    title_weight: float = _setting(
        3.0, "ARCHIVE_TITLE_WEIGHT", "BM25 weight of title matches relative to body matches."
    )
    chunk_bonus: float = _setting(
        0.01, "ARCHIVE_CHUNK_BONUS", "Semantic: bonus per further matching chunk of an article (times its cosine)."
    )
    related_duplicate_cosine: float = _setting(
        0.97,
        "ARCHIVE_RELATED_DUPLICATE_COSINE",
        "Related coverage: article-vector cosine at which a story counts as a duplicate.",
    )
    api_key: str | None = _setting(
        None, "ARCHIVE_API_KEY", "Bearer key for write endpoints; writes are refused when unset."
    )
    rate_limit: str = _setting(
        "120/minute", "ARCHIVE_RATE_LIMIT", "API requests per client address, e.g. '120/minute'; 'off' disables."
    )
    max_body_bytes: int = _setting(10 * 1024 * 1024, "ARCHIVE_MAX_BODY_BYTES", "Largest accepted request body.")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from environment variables, then explicit overrides (None values ignored)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is not None and raw != "":
                values[f.name] = _coerce(f.default, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        for name in ("index_dir", "encoder_cache"):
            if values.get(name) is not None:
                values[name] = Path(values[name])
        return cls(**values)

    @property
    def encoder_cache_dir(self) -> Path:
        """Where the ONNX models are exported to and cached."""
        return Path(self.encoder_cache) if self.encoder_cache else Path(self.index_dir) / "encoders"

    def with_(self, **changes: Any) -> Settings:
        """A copy with some settings changed."""
        return replace(self, **changes)

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL actually used."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.index_dir / 'archive.db').resolve()}"

    @staticmethod
    def describe() -> list[dict[str, str]]:
        """Name, environment variable, default and help of every setting (for docs and CLI)."""
        return [
            {"name": f.name, "env": f.metadata["env"], "default": str(f.default), "help": f.metadata["help"]}
            for f in fields(Settings)
        ]


def _coerce(default: Any, raw: str) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, Path):
        return Path(raw)
    return raw
