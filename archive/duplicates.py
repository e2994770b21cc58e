"""Near-copy detection (pure): a MinHash signature per article, LSH buckets, and the same-story test.

Two articles are versions of one story when most of the shorter one's text is in the longer one
(5-word shingle containment, estimated from MinHash signatures, at or above
`Settings.duplicate_containment`) and they were published within `Settings.duplicate_hours` of
each other (undated articles: text alone). The time window is what tells a re-sent or re-run copy
from a daily report of the same shape ("FED ADDS RESERVES VIA CUSTOMER REPURCHASES" of another
day shares 80% of its shingles). A short item (fewer than `SHORT_SHINGLES`) is mostly template
("... said it raised its prime rate to 7-3/4 pct from 7-1/2 pct"), so below `SHORT_CONTAINMENT`
it must also share its headline's words (`TITLE_OVERLAP`): two banks' prime-rate notices the same
day are two stories; and it must carry most of the same figures (`SHORT_FIGURES`): hog prices of
two markets, or the afternoon's feedlot report after the morning's, differ in their numbers where a
re-sent copy does not. A version cut to its first paragraphs may share too few shingles with the
whole for either the LSH bands or the estimate to see it ("SAUDI ARABIA REITERATES COMMITMENT TO
OPEC PACT" and its 111-shingle "... OPEC ACCORD", Jaccard 0.19): a second, small MinHash over the
lede (the body's first `LEDE_WORDS` words) has buckets of its own, and two ledes at
`LEDE_JACCARD` or above make the pair versions too when the longer one is not short (between two
short items, a shared lede is their template: hog prices of two cities, three funds' payouts).
Measured on labelled Reuters pairs: `bench/duplicates.py`, docs/search.md#one-result-per-story.

Candidates come from LSH buckets (`BANDS` bands of `ROWS` MinHash values of the text, `LEDE_BANDS`
of the lede), so finding the copies of one article is a few index look-ups, never a comparison with
every article.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from datasketch import MinHash

NUM_PERM = 128  # MinHash values per article (the estimate's standard error is about 0.04)
SHINGLE_WORDS = 5
BANDS = 32  # LSH: a pair is a candidate when one band of ROWS values agrees
ROWS = 3  # P(candidate) at Jaccard 0.3: 0.58, 0.4: 0.88, 0.5: 0.99; at 0.05 (unrelated): 0.004
SEED = 1  # fixed: signatures stored in an archive must stay comparable
LEDE_WORDS = 40  # the lede: the body's first words
LEDE_PERM = 32  # MinHash values of the lede
LEDE_BANDS = 16  # its LSH bands of LEDE_ROWS values: P(candidate) 0.999 at Jaccard 0.6, 0.78 at 0.3
LEDE_ROWS = 2
LEDE_JACCARD = 0.6  # two ledes this alike make two versions (within the time window)
SHORT_SHINGLES = 100  # a text with fewer shingles is "short"
SHORT_CONTAINMENT = 0.8  # ... and below this containment it needs a similar headline
TITLE_OVERLAP = 0.5  # Jaccard of the two headlines' word sets
SHORT_FIGURES = 0.7  # a short item's figures (numbers) found in the other's, at least
_FIGURE = re.compile(r"\d[\d,./-]*\d|\d")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Signature:
    """An article's MinHash values and how many distinct shingles they summarise."""

    values: np.ndarray  # uint32, NUM_PERM: the whole text
    shingles: int
    lede: np.ndarray  # uint32, LEDE_PERM: the lede
    figures: np.ndarray  # uint32, sorted: a hash of each distinct number in the body

    def to_bytes(self) -> bytes:
        """Stored form: the text's values, the lede's, then the figures' (little-endian uint32)."""
        return np.concatenate([self.values, self.lede, self.figures]).astype("<u4").tobytes()

    @classmethod
    def from_bytes(cls, raw: bytes, shingles: int) -> Signature:
        """The stored form read back."""
        values = np.frombuffer(raw, dtype="<u4").astype(np.uint32)
        head = NUM_PERM + LEDE_PERM
        return cls(values[:NUM_PERM], int(shingles), values[NUM_PERM:head], values[head:])


def _grams(words: list[str]) -> set[str]:
    if len(words) <= SHINGLE_WORDS:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def shingles(title: str, body: str) -> set[str]:
    """Lower-cased word 5-grams of title and body (a text shorter than that is one shingle)."""
    return _grams(_WORD.findall(f"{title} {body}".lower()))


def lede_shingles(body: str) -> set[str]:
    """The 5-grams of the body's first LEDE_WORDS words."""
    return _grams([m.group() for m in itertools.islice(_WORD.finditer(body.lower()), LEDE_WORDS)])


@functools.cache
def _empty_minhash(num_perm: int) -> MinHash:
    """An empty MinHash: its permutations are drawn once per process (a third of an article's signing time).

    Its hash function is the identity: `_minhash` hands it the shingles' 32-bit SHA-1 values (datasketch's default
    `sha1_hash32`), made in one pass, so the values are the default's and so are the signatures."""
    return MinHash(num_perm=num_perm, seed=SEED, hashfunc=int)


def _sha1_32(grams: set[str]) -> list[int]:
    """datasketch's `sha1_hash32` of each shingle (the first 4 bytes of its UTF-8 SHA-1, little-endian), for a whole
    set at once: one buffer read back as uint32 instead of a struct unpack per shingle (half the hashing time)."""
    sha1 = hashlib.sha1
    joined = b"".join([sha1(g.encode("utf-8")).digest()[:4] for g in grams])
    return np.frombuffer(joined, dtype="<u4").tolist()


def _minhash(grams: set[str], num_perm: int) -> np.ndarray:
    m = _empty_minhash(num_perm).copy()
    m.update_batch(_sha1_32(grams))
    return np.asarray(m.hashvalues, dtype=np.uint32)


def signature(title: str, body: str) -> Signature:
    """The article's MinHash signature (datasketch, fixed seed): NUM_PERM values of the text, LEDE_PERM of the lede."""
    grams = shingles(title, body)
    figures = {
        int.from_bytes(hashlib.blake2b(f.encode(), digest_size=4).digest(), "little") for f in _FIGURE.findall(body)
    }
    return Signature(
        _minhash(grams, NUM_PERM),
        len(grams),
        _minhash(lede_shingles(body), LEDE_PERM),
        np.array(sorted(figures), dtype=np.uint32),
    )


_PERSONS = [number.to_bytes(2, "little") * 8 for number in range(BANDS + LEDE_BANDS)]  # each band's own hash


def buckets(sig: Signature) -> list[int]:
    """The signature's LSH bucket keys, one per band (signed 63-bit integers, band number included).

    A band's key is the 8-byte BLAKE2b of its values' little-endian bytes, personalised by the band's number."""
    if sig.shingles == 0:
        return []
    text, lede = sig.values.astype("<u4").tobytes(), sig.lede.astype("<u4").tobytes()
    step, lede_step = ROWS * 4, LEDE_ROWS * 4
    parts = [text[b * step : (b + 1) * step] for b in range(BANDS)]
    parts += [lede[b * lede_step : (b + 1) * lede_step] for b in range(LEDE_BANDS)]
    blake2b, from_bytes = hashlib.blake2b, int.from_bytes
    return [
        from_bytes(blake2b(part, digest_size=8, person=person).digest(), "little") >> 1  # fits a signed BIGINT
        for part, person in zip(parts, _PERSONS, strict=True)
    ]


def jaccard(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of the two shingle sets."""
    return float(np.count_nonzero(a.values == b.values)) / NUM_PERM


def lede_jaccard(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of the two ledes' shingle sets."""
    return float(np.count_nonzero(a.lede == b.lede)) / LEDE_PERM


def containment(a: Signature, b: Signature) -> float:
    """Estimated share of the smaller shingle set found in the larger one (from Jaccard and the set sizes)."""
    if not a.shingles or not b.shingles:
        return 0.0
    j = jaccard(a, b)
    overlap = j * (a.shingles + b.shingles) / (1.0 + j)
    return min(1.0, overlap / min(a.shingles, b.shingles))


def close_in_time(a: datetime | None, b: datetime | None, hours: float) -> bool:
    """Published within `hours` of each other; an undated article is judged by its text alone."""
    if a is None or b is None:
        return True
    return abs((a - b).total_seconds()) <= hours * 3600.0


def figure_containment(a: Signature, b: Signature) -> float:
    """The share of the smaller set of figures found in the other (1.0 when neither has any)."""
    if not len(a.figures) or not len(b.figures):
        return 0.0 if len(a.figures) or len(b.figures) else 1.0
    shared = len(np.intersect1d(a.figures, b.figures, assume_unique=True))
    return shared / min(len(a.figures), len(b.figures))


def title_overlap(a: str, b: str) -> float:
    """Jaccard similarity of the two headlines' lower-cased word sets."""
    wa, wb = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    return len(wa & wb) / len(wa | wb) if wa | wb else 0.0


@dataclass(frozen=True)
class Version:
    """What the same-story test reads of an article: its signature, publication time and headline."""

    sig: Signature
    published: datetime | None
    title: str


def same_story(a: Version, b: Version, *, threshold: float, hours: float) -> float | None:
    """The estimated containment when the two are versions of one story, else None."""
    if not close_in_time(a.published, b.published, hours):
        return None
    c = containment(a.sig, b.sig)
    cut_short = max(a.sig.shingles, b.sig.shingles) >= SHORT_SHINGLES and lede_jaccard(a.sig, b.sig) >= LEDE_JACCARD
    if c < threshold and not cut_short:  # the lede counts for a long article and its shortened version only
        return None
    if min(a.sig.shingles, b.sig.shingles) < SHORT_SHINGLES:
        if c < SHORT_CONTAINMENT and title_overlap(a.title, b.title) < TITLE_OVERLAP:
            return None
        if figure_containment(a.sig, b.sig) < SHORT_FIGURES:
            return None
    return c
