"""Reading one stored article for the site and the API: metadata, body and display passages (no Flask)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from archive.core import Archive, utc_aware
from archive.errors import NotFound
from archive.store.models import ArticleRow, ChunkRow

MAX_KEY_CHARS = 512  # the uid column's width


@dataclass(frozen=True)
class Passage:
    """A display slice of the body: chunk `seq`'s text without the sentence it shares with the next chunk."""

    seq: int
    start: int
    end: int
    paragraphs: list[tuple[int, int]] = field(default_factory=list)  # (start, end) of each paragraph piece
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

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the API's article object)."""
        return {
            "id": self.id, "uid": self.uid, "title": self.title, "source": self.source, "author": self.author,
            "url": self.url, "published_at": _iso(self.published_at), "language": self.language,
            "ingested_at": _iso(self.ingested_at), "extra": self.extra, "body": self.body,
            "passages": [p.as_dict() for p in self.passages],
        }


def load_article(archive: Archive, key: str | int) -> StoredArticle:
    """The article with this uid (first) or numeric id; NotFound otherwise."""
    key = str(key)
    if not key or len(key) > MAX_KEY_CHARS:
        raise NotFound(f"no article with id or uid {key[:80]!r}")
    with archive.session() as s:
        row = s.scalar(select(ArticleRow).where(ArticleRow.uid == key))
        if row is None and key.isascii() and key.isdigit() and len(key) < 19:
            row = s.get(ArticleRow, int(key))
        if row is None:
            raise NotFound(f"no article with id or uid {key[:80]!r}")
        bounds = s.execute(select(ChunkRow.seq, ChunkRow.char_start, ChunkRow.char_end)
                           .where(ChunkRow.article_id == row.id).order_by(ChunkRow.seq)).all()
        return StoredArticle(
            id=row.id, uid=row.uid, title=row.title, body=row.body, source=row.source, author=row.author,
            url=row.url, published_at=row.published_at, language=row.language, ingested_at=row.ingested_at,
            extra=dict(row.extra or {}), passages=split_passages(row.body, [(b.seq, b.char_start, b.char_end) for b in bounds]),
        )


def split_passages(body: str, chunks: list[tuple[int, int, int]]) -> list[Passage]:
    """Cut the body at each chunk's start, so passage N begins where chunk N begins and nothing repeats."""
    if not chunks:
        return [Passage(0, 0, len(body), _paragraphs(body, 0, len(body)))]
    ordered = sorted(chunks)
    passages = []
    for i, (seq, start, _end) in enumerate(ordered):
        begin = 0 if i == 0 else start
        stop = ordered[i + 1][1] if i + 1 < len(ordered) else len(body)
        if stop <= begin:  # defensive: malformed offsets never hide text
            continue
        paragraphs = _paragraphs(body, begin, stop)
        tail = body[paragraphs[-1][1]:stop] if paragraphs else ""
        passages.append(Passage(seq, begin, stop, paragraphs, runs_on=stop < len(body) and "\n" not in tail))
    return passages


def _paragraphs(body: str, start: int, end: int) -> list[tuple[int, int]]:
    """Non-blank line spans inside [start, end), trimmed of surrounding whitespace."""
    out: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        newline = body.find("\n", pos, end)
        stop = end if newline == -1 else newline
        left, right = pos, stop
        while left < right and body[left].isspace():
            left += 1
        while right > left and body[right - 1].isspace():
            right -= 1
        if right > left:
            out.append((left, right))
        pos = stop + 1
    return out


def archive_overview(archive: Archive, max_sources: int = 500) -> dict[str, Any]:
    """Counts, date span and known sources, for the home page and the source filter's suggestions."""
    with archive.session() as s:
        count = s.scalar(select(func.count()).select_from(ArticleRow)) or 0
        first, last = s.execute(select(func.min(ArticleRow.published_at), func.max(ArticleRow.published_at))).one()
        sources = list(s.execute(select(ArticleRow.source, func.count()).where(ArticleRow.source.is_not(None))
                                 .group_by(ArticleRow.source).order_by(func.count().desc(), ArticleRow.source)
                                 .limit(max_sources)).all())
    return {"articles": count, "first": first, "last": last,
            "sources": [{"value": name, "count": n} for name, n in sources]}


def _iso(value: datetime | None) -> str | None:
    return utc_aware(value).isoformat() if value is not None else None
