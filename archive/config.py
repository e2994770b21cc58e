"""Every setting declared once: name, default, environment variable and help.

Only this module reads the environment. Everything else receives a `Settings`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from archive.errors import ArchiveError

DEFAULT_INDEX_DIR = "index"
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def _setting(default: Any, env: str, help: str, low: float | None = None) -> Any:
    """One setting: default, environment variable, help, and for a number the least value that makes sense."""
    return field(default=default, metadata={"env": env, "help": help, "low": low})


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
        "Encoder: 'auto' (the fastest one making the vectors an archive holds; 'openvino' for a new one), "
        "'openvino' (batches via OpenVINO, bf16 where the CPU has it: the fp32 vectors within cosine 1e-4; "
        "one query via onnxruntime), 'onnx' (fp32 via onnxruntime), 'torch' (sentence-transformers, fp32), "
        "'onnx-int8' (quantised: faster, slightly less exact); "
        "'hash': deterministic word-hashing vectors without a model, for tests.",
    )
    encoder_cache: Path | None = _setting(
        None,
        "ARCHIVE_ENCODER_CACHE",
        "Folder of the locally exported ONNX models; default: 'encoders' in the index directory.",
    )
    batch_size: int = _setting(64, "ARCHIVE_BATCH_SIZE", "Chunks per embedding batch.", low=1)
    embed: str = _setting(
        "local",
        "ARCHIVE_EMBED",
        "Where ingest, reindex and recovery run the model: 'local' (in this process) or 'ray' (batches sent to "
        "Ray actors, each loading the archive's encoder once; needs the cluster extra: pip install '.[cluster]'; "
        "docs/deployment.md).",
    )
    ray_address: str = _setting(
        "local",
        "ARCHIVE_RAY_ADDRESS",
        "ARCHIVE_EMBED=ray: the Ray cluster: 'local' (start one for this process, on this machine), 'auto' (the "
        "cluster this machine joined with `ray start`), host:6379 (a head node) or ray://host:10001 (Ray Client).",
    )
    ray_actors: int = _setting(
        2, "ARCHIVE_RAY_ACTORS", "ARCHIVE_EMBED=ray: encoder actors (each holds one copy of the model).", low=1
    )
    ray_threads: int = _setting(
        1,
        "ARCHIVE_RAY_THREADS",
        "ARCHIVE_EMBED=ray: CPU threads of each actor's model (and the CPUs Ray reserves for it).",
        low=1,
    )
    ray_gpus: float = _setting(
        0.0,
        "ARCHIVE_RAY_GPUS",
        "ARCHIVE_EMBED=ray: GPUs reserved per actor (may be a fraction); above 0 the actors run the torch encoder "
        "on CUDA, so ARCHIVE_ENCODER must be torch (the fp32 family).",
        low=0,
    )
    ann_threshold: int = _setting(
        100_000,
        "ARCHIVE_ANN_THRESHOLD",
        "Vectors above which the FAISS index becomes HNSW (approximate); exact below "
        "(exact search costs ~10 ms per 100,000 vectors on one core).",
        low=1,
    )
    compress_threshold: int = _setting(
        2_000_000,
        "ARCHIVE_COMPRESS_THRESHOLD",
        "Vectors above which the FAISS index becomes compressed (IVF-PQ, ~60 bytes per vector instead of HNSW's "
        "~1,800), its candidates re-ranked with the exact vectors from SQL (docs/performance.md#compressed-vectors).",
        low=1,
    )
    filter_cache: int = _setting(
        64,
        "ARCHIVE_FILTER_CACHE",
        "Filters whose allowed chunks each process keeps as a bitmap for semantic search (one bit per chunk id); "
        "0 reads them from SQL on every query.",
        low=0,
    )
    doc_values: bool = _setting(
        True,
        "ARCHIVE_DOC_VALUES",
        "Count facets, labels and stories over each process's in-memory copy of every article's source, date, story "
        "and labels (kept current from SQL); off counts them with SQL statements (the same results, slower).",
    )
    save_seconds: float = _setting(
        2.0,
        "ARCHIVE_SAVE_SECONDS",
        "The publishing step of a write: the vector index is saved this often (at least 20x a save's duration "
        "apart) and committed chunks wait about this long for the model, so other processes find a new article "
        "by meaning within ~4x this + 1 s and a kill loses one step; larger = faster ingest, staler readers "
        "(docs/operations.md).",
        low=0,
    )
    compact_after: int = _setting(
        10_000,
        "ARCHIVE_COMPACT_AFTER",
        "An ingest that adds at least this many articles merges the keyword index's pieces at its end (FTS5's "
        "segments into one: ~13 s at 1,000,000 articles, searches ~14% less CPU there; `archive compact` does it "
        "on demand); 0: never.",
        low=0,
    )
    max_article_chars: int = _setting(
        1_000_000,
        "ARCHIVE_MAX_ARTICLE_CHARS",
        "Longest article accepted (title + body, in characters); a longer one is refused with the reason.",
    )
    chunk_tokens: int = _setting(
        200, "ARCHIVE_CHUNK_TOKENS", "Target chunk size in model tokens (hard cap: the model's limit).", low=1
    )
    chunk_overlap_sentences: int = _setting(
        1, "ARCHIVE_CHUNK_OVERLAP", "Sentences shared by consecutive chunks.", low=0
    )
    title_tokens: int = _setting(
        48,
        "ARCHIVE_TITLE_TOKENS",
        "Title words embedded before each chunk, at most this many tokens; 0: chunks are embedded without the title.",
        low=0,
    )
    rrf_k: int = _setting(60, "ARCHIVE_RRF_K", "Reciprocal rank fusion constant k.", low=0)
    keyword_weight: float = _setting(
        1.0, "ARCHIVE_KEYWORD_WEIGHT", "Weight of the keyword ranking in hybrid fusion.", low=0
    )
    semantic_weight: float = _setting(
        1.0, "ARCHIVE_SEMANTIC_WEIGHT", "Weight of the semantic ranking in hybrid fusion.", low=0
    )
    short_query_words: int = _setting(
        3,
        "ARCHIVE_SHORT_QUERY_WORDS",
        "Hybrid: a query of at most this many keyword words (stopwords out) is short; 0: none is.",
        low=0,
    )
    short_query_semantic_factor: float = _setting(
        0.25,
        "ARCHIVE_SHORT_QUERY_SEMANTIC_FACTOR",
        "Hybrid: the semantic weight of a short query is multiplied by this (a few remembered words are "
        "evidence for the keyword side; their embedding says little).",
        low=0,
    )
    candidates: int = _setting(
        300, "ARCHIVE_CANDIDATES", "Candidates per side before fusion: articles (keyword), chunks (semantic).", low=1
    )
    fusion: str = _setting(
        "zscore",
        "ARCHIVE_FUSION",
        "Hybrid fusion: 'zscore' or 'minmax' (normalised score mix, weighted) or 'rrf' (reciprocal rank).",
    )
    rerank_window: int = _setting(
        30,
        "ARCHIVE_RERANK_WINDOW",
        "Hybrid score fusion: its best this many candidates are ordered again by the learned re-ranking "
        "(archive/search/rerank.py, docs/search.md); 0: off.",
        low=0,
    )
    title_weight: float = _setting(
        3.0, "ARCHIVE_TITLE_WEIGHT", "BM25 weight of title matches relative to body matches.", low=0
    )
    number_weight: int = _setting(
        2,
        "ARCHIVE_NUMBER_WEIGHT",
        "Hybrid: in the keyword side's BM25 a query word holding a digit (a year, an amount, a model number) "
        "counts this many times (a whole number: FTS5 weighs a word by repeating it); keyword mode counts it once.",
        low=1,
    )
    chunk_bonus: float = _setting(
        0.01,
        "ARCHIVE_CHUNK_BONUS",
        "Semantic: bonus per further matching chunk of an article (times its cosine).",
        low=0,
    )
    relevance_floor: float = _setting(
        0.30,
        "ARCHIVE_RELEVANCE_FLOOR",
        "Semantic and hybrid: the best-chunk cosine an article needs to count as a match by meaning "
        "(calibrated for all-MiniLM-L6-v2 on SciFact and Reuters, docs/search.md); -1 turns the floor off.",
        low=-1,
    )
    spelling_min_docs: int = _setting(
        3,
        "ARCHIVE_SPELLING_MIN_DOCS",
        "Did you mean: a word offered for a typed one is held by at least this many articles (0: no suggestions) ...",
        low=0,
    )
    spelling_ratio: float = _setting(
        20,
        "ARCHIVE_SPELLING_RATIO",
        "... and by at least this many times as many articles as the typed word (which it may hold too, rarely).",
        low=1,
    )
    close_meaning: float = _setting(
        0.45,
        "ARCHIVE_CLOSE_MEANING",
        "Best-chunk cosine from which a result is called 'close in meaning' (below it, down to the floor: "
        "'loosely related').",
        low=-1,
    )
    min_match_all: int = _setting(
        3,
        "ARCHIVE_MIN_MATCH_ALL",
        "Hybrid: a keyword match counts on its own when it has every word of a query of up to this many words ...",
        low=1,
    )
    min_match_share: float = _setting(
        0.34,
        "ARCHIVE_MIN_MATCH_SHARE",
        "... and this share of the words (rounded up) of a longer query; other results need the meaning floor.",
        low=0,
    )
    label_fields: str = _setting(
        "topic=topics,place=places,tag=tags,section=section",
        "ARCHIVE_LABEL_FIELDS",
        "Fields of an article's `extra` that hold short labels, as name=field pairs: each becomes a facet, a filter "
        "typed as name:value in a query and an API parameter (?name=value), and links on the article page.",
    )
    duplicate_containment: float = _setting(
        0.5,
        "ARCHIVE_DUPLICATE_CONTAINMENT",
        "Near copies: share of the shorter article's 5-word shingles found in the other at which two "
        "articles are versions of one story (`archive duplicates --rebuild` applies a change).",
        low=0,
    )
    duplicate_hours: float = _setting(
        36.0,
        "ARCHIVE_DUPLICATE_HOURS",
        "Near copies: at most this many hours between the publication times of two versions of one story.",
        low=0,
    )
    thread_similarity: float = _setting(
        0.55,
        "ARCHIVE_THREAD_SIMILARITY",
        "Story threads: cosine of article vectors (mean of their passages) at or above which an article joins the "
        "thread of a member published within ARCHIVE_THREAD_DAYS (`archive threads --rebuild` applies a change).",
        low=0,
    )
    thread_days: float = _setting(
        7.0,
        "ARCHIVE_THREAD_DAYS",
        "Story threads: an article joins a thread through a member published at most this many days before or after.",
        low=0,
    )
    thread_word_share: float = _setting(
        0.01,
        "ARCHIVE_THREAD_WORD_SHARE",
        "Story threads: the article's title must also hold a key word of the thread (one of a third of its titles) "
        "found in at most this share of the titles of 30 days either side; 1 turns the condition off.",
        low=0,
    )
    api_key: str | None = _setting(
        None, "ARCHIVE_API_KEY", "Bearer key for write endpoints; writes are refused when unset."
    )
    rate_limit: str = _setting(
        "120/minute", "ARCHIVE_RATE_LIMIT", "API requests per client address, e.g. '120/minute'; 'off' disables."
    )
    max_body_bytes: int = _setting(10 * 1024 * 1024, "ARCHIVE_MAX_BODY_BYTES", "Largest accepted request body.", low=1)
    cors_origins: str = _setting(
        "",
        "ARCHIVE_CORS_ORIGINS",
        "Comma-separated origins (https://desk.example.org) whose pages may call the read API from a browser "
        "(CORS); '*' for any; empty (the default) sends no CORS headers.",
    )
    cors_writes: bool = _setting(
        False,
        "ARCHIVE_CORS_WRITES",
        "Also allow those origins the write endpoints (POST/DELETE with the API key); off by default.",
    )
    export_max: int = _setting(
        10_000, "ARCHIVE_EXPORT_MAX", "Most rows one export (CSV or JSON Lines of a whole result set) may hold.", low=1
    )
    alert_similarity: float = _setting(
        0.45,
        "ARCHIVE_ALERT_SIMILARITY",
        "Saved searches in semantic mode: cosine (query to a new article's best passage) at or above which a new "
        "article is an alert; keyword and hybrid saved searches use the query's matching rules instead. Meant to "
        "follow the search's relevance floor where one is configured.",
    )
    batch_max_queries: int = _setting(
        1000,
        "ARCHIVE_BATCH_MAX_QUERIES",
        "Most queries one batch search (an uploaded CSV or text file) may hold.",
        low=1,
    )

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        """The configured CORS origins, trimmed, without a trailing slash."""
        return tuple(o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip())

    @property
    def labels(self) -> dict[str, str]:
        """`label_fields` as {filter name: extra field}, in the declared order."""
        out: dict[str, str] = {}
        for pair in self.label_fields.split(","):
            name, _, key = pair.strip().partition("=")
            if name.strip():
                out[name.strip().lower()] = (key or name).strip()
        return out

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from environment variables, then explicit overrides (None values ignored).

        A value that is not of the setting's type (or below its least sensible value) is an
        ArchiveError naming the variable, the expected type and the setting's meaning.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is not None and raw != "":
                values[f.name] = coerce_setting(
                    f.metadata["env"], f.default, raw, f.metadata["low"], f.metadata["help"]
                )
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


def coerce_setting(env: str, default: Any, raw: str, low: float | None = None, help: str = "") -> Any:
    """`raw` (an environment value) as the type of `default`, else an ArchiveError naming `env` and the type."""
    if isinstance(default, Path):
        return Path(raw)
    if not isinstance(default, bool | int | float):
        return raw
    word = raw.strip().lower()
    value: Any = None
    if isinstance(default, bool):
        value = True if word in TRUE_WORDS else False if word in FALSE_WORDS else None
        expected = f"true or false ({'/'.join(TRUE_WORDS)} or {'/'.join(FALSE_WORDS)})"
    elif isinstance(default, int):
        value = int(word) if re.fullmatch(r"[+-]?[0-9]{1,18}", word) else None
        expected = "an integer"
    else:
        try:
            value = float(word)
        except ValueError:
            value = None
        value = value if value is not None and math.isfinite(value) else None
        expected = "a number"
    if value is not None and low is not None and value < low:
        value, expected = None, f"{expected} of at least {low:g}"
    if value is None:
        meaning = f" ({help})" if help else ""
        raise ArchiveError(f"{env} must be {expected}, got {raw!r}{meaning}")
    return value
