"""Story threads: articles about one developing story, across days and outlets (pure: no SQL, no model).

An article joins the thread of its most similar already-threaded article published within `days`
before or after it, when the cosine of their article vectors (the mean of their passage vectors,
normalised) reaches `similarity` and its title holds a salient key word of that thread: a word of at
least a third of the thread's titles (what the story is about), found in at most `word_share` of the
titles of the time window (a company, a place, a subject: not "net", "qtr", "says" or "1st", the
words of the many reports written on one template, which would otherwise chain into one thread
however unrelated their companies). Otherwise it begins a thread of its own, whose id is its article
id. Near copies (the groups of `write.stories`) always share a thread. Decided once per article in
time order: the backfill and the write path call the same `assign`, so a rebuild gives what an
ingest in time order would have given.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import numpy as np

WORD = re.compile(r"[a-z][a-z0-9]{2,}")
WORD_DAYS = 30.0  # a word's rarity is counted over the titles of this many days either side
KEY_SHARE = 1 / 3  # a thread's key words: those of at least this share of its titles
MIN_COUNT = 10  # in a small window (a young archive, a quiet week) a word in ten titles is still salient
TITLE_CACHE = 1 << 17  # titles whose words are kept (a window of the write path holds tens of thousands)


@dataclass(frozen=True)
class Params:
    """The thresholds (from `Settings`: thread_similarity, thread_days, thread_word_share)."""

    similarity: float
    days: float
    word_share: float


@dataclass
class Item:
    """One article as threading sees it."""

    id: int
    at: datetime | None
    words: frozenset[str]
    story: int | None = None  # its near-copy group, if any
    thread: int | None = None  # known thread (None: to decide)
    words_only: bool = False  # counted for the words' rarity only: never decided (no vector yet, or out of reach)


@functools.lru_cache(maxsize=TITLE_CACHE)
def title_words(title: str) -> frozenset[str]:
    """The title's words of three or more letters, lower-cased (Reuters titles are in capitals).

    Kept per title: the write path reads the same window's titles again at every step."""
    return frozenset(WORD.findall((title or "").lower()))


def assign(items: list[Item], vectors: np.ndarray, params: Params) -> dict[int, int]:
    """Threads for the items without one, decided in time order (ties by id); returns id -> thread id.

    `items` are every article of the time span in question, those with a known thread included (they
    are the candidates); `vectors[i]` is item i's article vector. Items without a time thread alone
    (or with their near copies).
    """
    order = sorted(range(len(items)), key=lambda i: (items[i].at is None, items[i].at or datetime.min, items[i].id))
    items = [items[i] for i in order]
    matrix = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32)[order]) if order else np.zeros((0, 1))
    times = [it.at.timestamp() for it in items if it.at is not None]  # the dated items come first
    span = params.days * 86400.0
    threads = np.array([it.thread if it.thread is not None else -1 for it in items], dtype=np.int64)
    by_story: dict[int, int] = {}
    for it, t in zip(items, threads, strict=True):
        if it.story is not None and t >= 0:
            by_story.setdefault(it.story, int(t))
    words = _WindowWords(items, times, max(span, WORD_DAYS * 86400.0))
    keys = _ThreadWords()
    for it, t in zip(items, threads, strict=True):
        if t >= 0:
            keys.add(int(t), it.words)
    cosines = _Cosines(matrix, times, span)
    out: dict[int, int] = {}
    for i, item in enumerate(items):
        if threads[i] >= 0 or item.words_only:
            continue
        found = by_story.get(item.story) if item.story is not None else None
        if found is None and i < len(times):
            t = times[i]
            lo, hi = bisect.bisect_left(times, t - span), bisect.bisect_right(times, t + span)
            found = _best(item, i, lo, hi, cosines, threads, words, keys, params)
        thread = found if found is not None else item.id
        threads[i] = thread
        out[item.id] = thread
        keys.add(thread, item.words)
        if item.story is not None:
            by_story.setdefault(item.story, thread)
    return out


def _best(
    item: Item,
    i: int,
    lo: int,
    hi: int,
    cosines: _Cosines,
    threads: np.ndarray,
    words: _WindowWords,
    keys: _ThreadWords,
    params: Params,
) -> int | None:
    """The thread of the most similar threaded article of the window [lo, hi) that passes both tests, if any."""
    if not (threads[i + 1 : hi] >= 0).any():
        hi = i  # nothing later is threaded yet (a backfill in time order): half the products
    scores = cosines.window(i, lo, hi)
    scores[(threads[lo:hi] < 0) | (np.arange(lo, hi) == i)] = -np.inf
    close = np.flatnonzero(scores >= params.similarity)
    if len(close) == 0:
        return None
    limit = words.advance(i, params.word_share)
    for k in close[np.argsort(-scores[close], kind="stable")]:
        j = lo + int(k)
        thread = int(threads[j])
        if params.word_share >= 1:
            return thread
        if any(words.counts[w] <= limit for w in item.words & keys.of(thread)):
            return thread
    return None


class _ThreadWords:
    """Each thread's title words and how many of its titles hold each: its key words are those of at least a
    third of its titles (what the story is about: GenCorp, Ecuador, Volcker), not one member's words, so a chain
    of unrelated reports cannot grow one shared word at a time.

    Counted when a thread is first asked for (most threads of a window never are) and kept up to date after;
    its key words are kept until the thread grows."""

    def __init__(self) -> None:
        self.members: dict[int, list[frozenset[str]]] = {}  # the titles' words of threads not yet counted
        self.words: dict[int, Counter[str]] = {}
        self.sizes: Counter[int] = Counter()
        self.keys: dict[int, set[str]] = {}

    def add(self, thread: int, words: frozenset[str]) -> None:
        known = self.words.get(thread)
        if known is None:
            self.members.setdefault(thread, []).append(words)
        else:
            known.update(words)
        self.sizes[thread] += 1
        self.keys.pop(thread, None)

    def of(self, thread: int) -> set[str]:
        keys = self.keys.get(thread)
        if keys is not None:
            return keys
        known = self.words.get(thread)
        if known is None:
            known = self.words[thread] = Counter()
            for words in self.members.pop(thread, ()):
                known.update(words)
        size = self.sizes[thread]
        keys = self.keys[thread] = {w for w, n in known.items() if n >= KEY_SHARE * size}
        return keys


class _Cosines:
    """Cosines of each dated item to its time window, computed a block of items at a time (one matrix product
    per block: on a busy machine, a product per item costs several times more in BLAS start-ups)."""

    BLOCK = 256

    def __init__(self, matrix: np.ndarray, times: list[float], span: float) -> None:
        self.matrix, self.times, self.span = matrix, times, span
        self.start = self.rows = -1
        self.block = np.zeros((0, 0), np.float32)

    def window(self, i: int, lo: int, hi: int) -> np.ndarray:
        """Cosines of item i to the items [lo, hi) (a copy)."""
        if not self.start <= i < self.start + self.block.shape[1]:
            self.start = i
            end = min(i + self.BLOCK, len(self.times))
            self.rows = bisect.bisect_left(self.times, self.times[i] - self.span)
            last = bisect.bisect_right(self.times, self.times[end - 1] + self.span)
            self.block = self.matrix[self.rows : last] @ self.matrix[i:end].T
        return self.block[lo - self.rows : hi - self.rows, i - self.start].copy()


class _WindowWords:
    """How many titles of each article's time window hold each word (a sliding count over the dated items)."""

    def __init__(self, items: list[Item], times: list[float], span: float) -> None:
        self.items, self.times, self.span = items, times, span
        self.counts: Counter[str] = Counter()
        self.lo = self.hi = 0  # the dated positions counted: [lo, hi)

    def advance(self, pos: int, share: float) -> float:
        """Count the window of the item at `pos`; the most titles a salient word may appear in."""
        t = self.times[pos]  # called in time order: the window only moves forward
        while self.hi < len(self.times) and self.times[self.hi] <= t + self.span:
            self.counts.update(self.items[self.hi].words)
            self.hi += 1
        while self.times[self.lo] < t - self.span:
            self.counts.subtract(self.items[self.lo].words)
            self.lo += 1
        return max(share * (self.hi - self.lo), MIN_COUNT)
