"""The articles of `bench.scale`: real Reuters-21578 text recombined into distinct articles, and their vectors.

See `bench.scale`'s docstring for the recipe; this module only makes articles (no archive, no server).
"""

from __future__ import annotations

import bisect
import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bench.common import log, reuters_articles

POOL_STORIES = 3000  # real chunk vectors embedded once (a few minutes of the model on 2 cores)
CHUNK_CHARS = 1000  # sentences are packed into chunks up to this length (~200 model tokens)
SOURCES = (
    ("Reuters", 30),
    ("Associated Press", 20),
    ("Agence France-Presse", 12),
    ("Bloomberg", 10),
    ("The Daily Ledger", 10),
    ("Northern Courier", 8),
    ("Financial Wire", 6),
    ("Metro Herald", 4),
)
FIRST_DAY = datetime(2000, 1, 1)
DAYS = 25 * 365  # 2000-2024


@dataclass
class Story:
    """A Reuters story's parts: its title, cleaned sentences (with running lengths), labels."""

    title: str
    sentences: list[str]
    ends: list[int]  # cumulative character count after each sentence (with one space between)
    labels: dict[str, list[str]]


def read_stories(limit: int | None = None) -> list[Story]:
    """Every Reuters story with text (the first `limit`), split into sentences by the chunker's own splitter."""
    from archive.chunking import sentence_spans
    from archive.documents import Article

    stories = []
    for item in reuters_articles(count=limit):
        if not isinstance(item, Article) or not item.body.strip():
            continue
        sentences = [" ".join(item.body[a:b].split()) for a, b in sentence_spans(item.body)]
        sentences = [s for s in sentences if s]
        if not sentences:
            continue
        ends, total = [], 0
        for s in sentences:
            total += len(s) + 1
            ends.append(total)
        extra = item.extra or {}
        labels = {k: list(extra[k]) for k in ("topics", "places") if isinstance(extra.get(k), list) and extra[k]}
        stories.append(Story(" ".join((item.title or "").split()), sentences, ends, labels))
    return stories


def pool_vectors(stories: list[Story], count: int, out: Path, encoder) -> tuple[np.ndarray, np.ndarray]:
    """(story indices, their first chunk's vector): embedded once by the real model, cached under `out`."""
    rng = np.random.default_rng(11)
    eligible = np.array([i for i, s in enumerate(stories) if len(s.sentences) >= 2])
    chosen = np.sort(rng.choice(eligible, size=min(count, len(eligible)), replace=False))
    texts = [f"{stories[i].title}\n{first_chunk(stories[i])}" for i in chosen]
    key = hashlib.sha256("\0".join(texts).encode() + (encoder.info.name + encoder.backend).encode()).hexdigest()[:16]
    cache = out / f"pool-{key}.npy"
    if cache.exists():
        return chosen, np.load(cache)
    log(f"scale: embedding the vector pool ({len(texts):,} Reuters chunks, once; cached in {cache}) ...")
    started = time.perf_counter()
    vectors = np.asarray(encoder.encode(texts), dtype=np.float32)
    log(f"scale: pool embedded in {time.perf_counter() - started:.0f} s")
    out.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return chosen, vectors


def first_chunk(story: Story) -> str:
    """The story's first ~CHUNK_CHARS characters of whole sentences."""
    stop = max(1, bisect.bisect_right(story.ends, CHUNK_CHARS))
    return " ".join(story.sentences[:stop])


class Generator:
    """Distinct articles recombined from the stories, with chunks and vectors (see the module docstring)."""

    def __init__(self, stories: list[Story], pool_ids: np.ndarray, pool: np.ndarray, seed: int) -> None:
        self.stories = stories
        self.pool_ids = pool_ids
        self.pool = pool
        self.rng = np.random.default_rng(seed)
        self.lengths = np.array([min(s.ends[-1], 6000) for s in stories])
        names, weights = zip(*SOURCES, strict=True)
        self.sources = list(names)
        self.source_p = np.array(weights, dtype=float) / sum(weights)
        self.seen: set[str] = set()
        self.serial = 0  # uids: scale-0, scale-1, ...

    def batch(self, count: int):
        """(prepared articles, their chunks' vectors): up to `count` new articles (a repeat is dropped)."""
        from archive.documents import Article, PreparedArticle
        from archive.write.prepare import content_hash

        rng, stories = self.rng, self.stories
        leads = rng.integers(len(self.pool_ids), size=count)
        lengths = self.lengths[rng.integers(len(stories), size=count)]
        sources = rng.choice(len(self.sources), size=count, p=self.source_p)
        seconds = rng.integers(DAYS * 86400, size=count)
        prepared, owners = [], []
        for j in range(count):
            lead = stories[int(self.pool_ids[leads[j]])]
            parts = lead.sentences[: int(rng.integers(1, 4))]
            size = sum(len(s) + 1 for s in parts)
            while size < lengths[j]:
                other = stories[int(rng.integers(len(stories)))]
                start = int(rng.integers(len(other.sentences)))
                offset = other.ends[start - 1] if start else 0
                stop = bisect.bisect_left(other.ends, offset + int(lengths[j]) - size) + 1
                run = other.sentences[start:stop]
                parts.extend(run)
                size += sum(len(s) + 1 for s in run)
            body, chunks = pack(parts)
            article = Article(
                title=lead.title,
                body=body,
                uid=f"scale-{self.serial + j}",
                source=self.sources[int(sources[j])],
                published_at=(FIRST_DAY + timedelta(seconds=int(seconds[j]))).replace(tzinfo=UTC),
                extra=dict(lead.labels),
            )
            digest = content_hash(article)
            if digest in self.seen:  # the same recombination twice: one more sentence makes it new
                continue
            self.seen.add(digest)
            prepared.append(PreparedArticle(article, article.uid or "", digest, chunks, lead.title))
            owners.extend([int(leads[j])] * len(chunks))
        self.serial += count
        return prepared, self.vectors(np.asarray(owners, dtype=np.int64))

    def vectors(self, owners: np.ndarray) -> np.ndarray:
        """A noisy neighbour of each owner's pool vector (float32, unit length)."""
        rng, pool = self.rng, self.pool
        m = len(owners)
        other = pool[rng.integers(len(pool), size=m)]
        pull = rng.uniform(0.0, 0.35, size=(m, 1)).astype(np.float32)
        sigma = rng.uniform(0.01, 0.04, size=(m, 1)).astype(np.float32)
        block = (1 - pull) * pool[owners] + pull * other + sigma * rng.standard_normal((m, pool.shape[1]), np.float32)
        return block / np.linalg.norm(block, axis=1, keepdims=True)


def pack(sentences: list[str]):
    """(body, chunks): the sentences joined by spaces, packed into chunks of up to CHUNK_CHARS."""
    from archive.documents import Chunk

    body = " ".join(sentences)
    chunks: list[Chunk] = []
    start = end = position = 0
    for s in sentences:
        s_end = position + len(s)
        if s_end - start > CHUNK_CHARS and end > start:
            chunks.append(Chunk(len(chunks), body[start:end], start, end))
            start = position
        end, position = s_end, s_end + 1
    if end > start:
        chunks.append(Chunk(len(chunks), body[start:end], start, end))
    return body, chunks
