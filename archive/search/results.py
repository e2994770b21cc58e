"""What search and related coverage return: plain dataclasses with their JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date
from typing import Any

from archive.search.histogram import date_histogram


@dataclass
class Candidate:
    """One article while a search ranks it: each side's rank and score, and the fused score."""

    article_id: int
    keyword_rank: int | None = None
    semantic_rank: int | None = None
    keyword_score: float | None = None
    semantic_score: float | None = None
    semantic_chunk: int | None = None  # the chunk that made the semantic score
    score: float = 0.0
    cosine: float | None = None  # the best chunk's cosine to the query (None: not among the semantic hits)
    matched: tuple[str, ...] | None = None  # the query's optional words the article contains (None: not looked up)


@dataclass
class ArticleRef:
    """What every listed article shows: its identity, outlet, byline, link and date (ISO 8601, UTC)."""

    id: int
    uid: str
    title: str
    source: str | None
    author: str | None
    url: str | None
    published_at: str | None


@dataclass
class Version:
    """Another version of a result's story (a wire copy, a re-run, the story in another outlet)."""

    id: int
    uid: str
    title: str
    source: str | None
    url: str | None
    published_at: str | None


@dataclass
class SearchResult(ArticleRef):
    """One article in a result page, with its best passage and why it matched."""

    score: float
    passage: str
    passage_html: str
    highlights: list[tuple[int, int]]
    chunk_id: int
    chunk_seq: int
    passage_start: int  # char offsets of the passage in the article body
    passage_end: int
    explain: dict[str, Any]
    matched_words: list[str]  # the query's words found in the article (stemmed matches), required ones included
    meaning: str | None  # 'close in meaning', 'loosely related in meaning', or None (not matched by meaning)
    versions: list[Version] = field(default_factory=list)  # the story's other versions (collapsed away)
    thread: dict[str, int] | None = None  # {"id", "size"} of its story thread (`archive.threads`)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the API's result object)."""
        return plain(self)


@dataclass
class SearchResponse:
    """A page of results plus totals and facets over the whole filtered candidate set."""

    query: str
    mode: str
    total: int
    limit: int
    offset: int
    sort: str
    results: list[SearchResult]
    total_relation: str = "eq"  # 'eq': `total` is exact; 'gte': at least `total` (a candidate window was full)
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    date_bucket: str | None = None  # the bucket of facets["date"]: day, week, month or year (None: no dated match)
    filters: dict[str, Any] = field(default_factory=dict)
    collapse: bool = True  # one result per story: `total` and the facets count stories
    did_you_mean: str | None = None  # the query respelled when a word of it is rare and a close one common (`spelling`)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return plain(self)


@dataclass
class RelatedArticle(ArticleRef):
    """One article of related coverage: how close it is and how it opens."""

    score: float  # cosine of the article vectors
    snippet: str
    versions: list[Version] = field(default_factory=list)  # the story's other versions
    thread: dict[str, int] | None = None  # {"id", "size"} of its story thread

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the API's related-article object)."""
        return plain(self)


_LEAVES = frozenset({str, int, float, bool, type(None)})


def plain(value: Any) -> Any:
    """`dataclasses.asdict` without its deep copy of every leaf: dataclasses, lists, tuples and dicts rebuilt,
    everything else (numbers, strings, dates) shared. A page's answer is ~1,300 values; asdict's copying was
    about 40% of the CPU of a semantic search's API call."""
    if type(value) in _LEAVES:
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return type(value)(*map(plain, value)) if hasattr(value, "_fields") else tuple(plain(v) for v in value)
    return value


def facets(counts: dict[tuple[str | None, date | None], int]) -> tuple[dict[str, list[dict[str, Any]]], str | None]:
    """(source, day) -> count pairs as the response's facets, and the date histogram's bucket.

    `source`: by count; `year`: in order; `date`: the date histogram (`histogram.py`) over
    the same counts, so every facet counts the same matches.
    """
    sources: dict[str, int] = {}
    years: dict[str, int] = {}
    days: dict[date, int] = {}
    for (source, day), n in counts.items():
        if source:
            sources[source] = sources.get(source, 0) + n
        if day is not None:
            key = f"{day.year:04d}"
            years[key] = years.get(key, 0) + n
            days[day] = days.get(day, 0) + n
    bucket, histogram = date_histogram(days)
    return {
        "source": [{"value": k, "count": v} for k, v in sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))],
        "year": [{"value": k, "count": v} for k, v in sorted(years.items())],
        "date": histogram,
    }, bucket
