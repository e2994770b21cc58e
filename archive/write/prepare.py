"""Before anything is stored: identity (content hash, uid), chunks and the title prefix each chunk embeds with."""

from __future__ import annotations

import hashlib
import re
import unicodedata

from archive.archive import Archive
from archive.chunking import chunk_text
from archive.documents import Article, PreparedArticle, ReadFailure
from archive.limits import MAX_KEY_CHARS


def normalised_text(text: str) -> str:
    """Text as compared for duplicates: NFKC, case-folded, whitespace collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def content_hash(article: Article) -> str:
    """sha256 of the normalised body: the same story ingested twice is stored once."""
    return hashlib.sha256(normalised_text(article.body).encode()).hexdigest()


def derive_uid(article: Article, digest: str) -> str:
    """The source's own id, else the URL (if it fits in a key: MAX_KEY_CHARS), else a content hash.

    An own id longer than a key is returned as it is, and `prepare` refuses the article.
    """
    if article.uid and article.uid.strip():
        return article.uid.strip()
    if article.url and article.url.strip() and len(article.url.strip()) <= MAX_KEY_CHARS:
        return article.url.strip()
    return f"sha256:{digest[:32]}"


def _fit_key(uid: str) -> str:
    """A uid longer than the column (a long URL) keeps its start plus a hash of the whole: still unique, still stable."""
    if len(uid) <= MAX_KEY_CHARS:
        return uid
    whole = hashlib.sha256(uid.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{uid[: MAX_KEY_CHARS - len(whole) - 1]}#{whole}"


def embedding_text(prefix: str, chunk: str) -> str:
    """What the model sees for a chunk: the (short) title, then the passage."""
    return f"{prefix}\n{chunk}" if prefix else chunk


def title_prefix(archive: Archive, title: str) -> tuple[str, int]:
    """The title as embedded with each chunk, cut to ARCHIVE_TITLE_TOKENS tokens; returns (prefix, tokens)."""
    budget = archive.settings.title_tokens
    words = title.split() if budget else []
    counts = archive.encoder.count_tokens(words) if words else []
    total, kept = 0, []
    for word, n in zip(words, counts, strict=True):
        if total + n > budget:
            break
        kept.append(word)
        total += n
    return " ".join(kept), total


def prepare(archive: Archive, article: Article) -> PreparedArticle | ReadFailure:
    """Hash, uid and chunks of one article, or the reason it cannot be stored."""
    origin = article.origin or article.uid or article.title[:60]
    if not article.body or not article.body.strip():
        return ReadFailure(origin, "no text")
    size, limit = len(article.body) + len(article.title or ""), archive.settings.max_article_chars
    if size > limit:  # before any work: chunking and embedding grow with the text (ARCHIVE_MAX_ARTICLE_CHARS)
        return ReadFailure(origin, f"article too long: {size:,} characters, limit {limit:,}")
    digest = content_hash(article)
    uid = derive_uid(article, digest)
    if len(uid) > MAX_KEY_CHARS:  # it could be stored but never read, updated or deleted by its id
        return ReadFailure(origin, f"id is {len(uid)} characters long; an id has at most {MAX_KEY_CHARS}")
    prefix, prefix_tokens = title_prefix(archive, article.title or "")
    # [CLS] and [SEP] plus the newline-separated title must fit beside the passage.
    max_tokens = archive.encoder.max_tokens - 2 - prefix_tokens
    chunks = chunk_text(
        article.body,
        archive.encoder.count_tokens,
        target_tokens=min(archive.settings.chunk_tokens, max_tokens),
        max_tokens=max_tokens,
        overlap_sentences=archive.settings.chunk_overlap_sentences,
    )
    if not chunks:
        return ReadFailure(origin, "no text after cleaning")
    return PreparedArticle(article, uid, digest, chunks, prefix)
