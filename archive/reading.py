"""Reading one stored article for the site and the API: metadata, body and display passages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from archive.archive import Archive
from archive.dates import iso_utc
from archive.documents import display_fields
from archive.errors import NotFound
from archive.limits import THREAD_MAX
from archive.reflow import paragraph_spans, pieces
from archive.store import reads
from archive.store import threads as thread_store


@dataclass(frozen=True)
class Passage:
    """A display slice of the body: chunk `seq`'s text without the sentence it shares with the next chunk."""

    seq: int
    start: int
    end: int
    paragraphs: list[tuple[int, int]] = field(default_factory=list)  # (start, end) of each (reflowed) paragraph piece
    runs_on: bool = False  # the last paragraph continues in the next passage (the cut is mid-paragraph)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"seq": self.seq, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class StoredArticle:
    """An article as stored, with its chunk boundaries turned into non-overlapping passages."""

    id: int
    uid: str
    title: str
    body: str
    source: str | None
    author: str | None
    url: str | None
    published_at: datetime | None
    language: str | None
    ingested_at: datetime | None
    extra: dict[str, Any]
    passages: list[Passage]
    thread: dict[str, int] | None = None  # {"id", "size"} of its story thread (None: not threaded yet)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the API's article object)."""
        return {
            "id": self.id,
            "uid": self.uid,
            "title": self.title,
            "source": self.source,
            "author": self.author,
            "url": self.url,
            "published_at": iso_utc(self.published_at),
            "language": self.language,
            "ingested_at": iso_utc(self.ingested_at),
            "extra": self.extra,
            "body": self.body,
            "passages": [p.as_dict() for p in self.passages],
            "thread": self.thread,
        }


def load_article(archive: Archive, key: str | int) -> StoredArticle:
    """The article with this uid (first) or numeric id; NotFound otherwise."""
    with archive.session() as s:
        row = reads.find_article(s, str(key))
        if row is None:
            raise NotFound(f"no article with id or uid {str(key)[:80]!r}")
        bounds = reads.chunk_bounds(s, row.id)
        threaded = thread_store.thread_sizes(s.connection(), [row.id]).get(row.id)
        return StoredArticle(
            **display_fields(row),
            body=row.body,
            published_at=row.published_at,
            language=row.language,
            ingested_at=row.ingested_at,
            extra=dict(row.extra or {}),
            passages=split_passages(row.body, bounds),
            thread={"id": threaded[0], "size": threaded[1]} if threaded else None,
        )


@dataclass(frozen=True)
class ThreadArticle:
    """One article of a story thread."""

    id: int
    uid: str
    title: str
    source: str | None
    url: str | None
    published_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**self.__dict__, "published_at": iso_utc(self.published_at)}


@dataclass(frozen=True)
class StoryThread:
    """A story thread (`archive.threads`): its articles oldest first, at most THREAD_MAX of `size`."""

    id: int
    size: int
    articles: list[ThreadArticle]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the API's thread object)."""
        return {"id": self.id, "size": self.size, "articles": [a.as_dict() for a in self.articles]}

    def around(self, article_id: int, count: int) -> list[ThreadArticle]:
        """At most `count` of its articles, the ones nearest `article_id` in time order (it included)."""
        ids = [a.id for a in self.articles]
        at = ids.index(article_id) if article_id in ids else 0
        start = max(0, min(at - count // 2, len(ids) - count))
        return self.articles[start : start + count]


def load_thread(archive: Archive, key: str | int, limit: int = THREAD_MAX) -> StoryThread:
    """The story thread with this id (an int, or its digits); NotFound when no article is in it."""
    raw = str(key)
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 12 and 0 < int(raw) < 2**31):
        raise NotFound(f"no story thread {raw[:40]!r}")
    thread_id = int(raw)
    with archive.engine.connect() as conn:
        rows = thread_store.members(conn, thread_id, limit)
        size = thread_store.size(conn, thread_id) if len(rows) >= limit else len(rows)
    if not rows:
        raise NotFound(f"no story thread {thread_id}")
    return StoryThread(
        thread_id, size, [ThreadArticle(r.id, r.uid, r.title, r.source, r.url, r.published_at) for r in rows]
    )


def split_passages(body: str, chunks: list[tuple[int, int, int]]) -> list[Passage]:
    """Cut the body at each chunk's start, so passage N begins where chunk N begins and nothing repeats.

    Each passage lists its part of the body's reflowed paragraphs (`archive.reflow`): a
    hard-wrapped paragraph is one piece, however many lines it spans.
    """
    spans = paragraph_spans(body)
    if not chunks:
        return [Passage(0, 0, len(body), pieces(spans, body, 0, len(body))[0])]
    ordered = sorted(chunks)
    passages = []
    for i, (seq, start, _end) in enumerate(ordered):
        begin = 0 if i == 0 else start
        stop = ordered[i + 1][1] if i + 1 < len(ordered) else len(body)
        if stop <= begin:  # defensive: malformed offsets never hide text
            continue
        paragraphs, runs_on = pieces(spans, body, begin, stop)
        passages.append(Passage(seq, begin, stop, paragraphs, runs_on=runs_on))
    return passages


def archive_overview(archive: Archive, max_sources: int = 500) -> dict[str, Any]:
    """Counts, date span and known sources, for the home page and the source filter's suggestions."""
    with archive.engine.connect() as conn:
        return reads.overview(conn, max_sources)
