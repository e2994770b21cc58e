"""Plain data passed between layers: articles, chunks, hits and search results."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The key of `Article.extra` that keeps a published_at the archive could not read as a date (the article is
# stored without a date; the text is kept so that it can be fixed), reported by the ingest as "undated".
DATE_RAW = "date_raw"


@dataclass
class Article:
    """One news article as read from a source, before it is stored."""

    title: str
    body: str
    uid: str | None = None  # the source's own id (JSONL `_id`), else set from URL/hash
    source: str | None = None  # outlet, e.g. "Reuters"
    author: str | None = None
    url: str | None = None
    published_at: datetime | None = None  # timezone-aware UTC
    language: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    origin: str | None = None  # where it was read from, e.g. "file.jsonl:12"


@dataclass(frozen=True)
class ReadFailure:
    """A file or record that could not be read, with the reason, for the ingest summary."""

    origin: str
    reason: str


@dataclass(frozen=True)
class Chunk:
    """A sentence-aligned slice of an article body; offsets index into `Article.body`."""

    seq: int
    text: str
    char_start: int
    char_end: int


@dataclass
class PreparedArticle:
    """An article ready to store: its identity, cleaned fields, chunks and the title prefix they embed with."""

    article: Article
    uid: str
    content_hash: str
    chunks: list[Chunk]
    embed_prefix: str


# The fields every view of an article shows first (search results, related coverage, the article itself).
DISPLAY_FIELDS = ("id", "uid", "title", "source", "author", "url")


def display_fields(row: Any) -> dict[str, Any]:
    """DISPLAY_FIELDS of a row (or any object with those attributes), by name."""
    return {name: getattr(row, name) for name in DISPLAY_FIELDS}


def extra_labels(extra: dict[str, Any] | None) -> set[tuple[str, str]]:
    """The short labels an article's `extra` holds, as (field, lower-cased value): every string, and every
    string of a list, of at most `MAX_LABEL_CHARS` (a topic, a place, a language). Facets and label filters
    read them (`Settings.label_fields` names which fields are shown)."""
    from archive.limits import MAX_LABEL_CHARS, MAX_LABELS_PER_FIELD

    labels: set[tuple[str, str]] = set()
    for key, value in (extra or {}).items():
        if not isinstance(key, str) or not 0 < len(key) <= MAX_LABEL_CHARS:
            continue
        values = value if isinstance(value, list) else [value]
        kept = [v.strip().lower() for v in values if isinstance(v, str) and 0 < len(v.strip()) <= MAX_LABEL_CHARS]
        labels.update((key, v) for v in kept[:MAX_LABELS_PER_FIELD])
    return labels
