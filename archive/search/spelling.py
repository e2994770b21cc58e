"""Spelling suggestions ("did you mean"): a typed word the archive barely holds, replaced by a close word it holds
far more often (`earthqake Equador` -> `earthquake Ecuador`, `Volker` -> `Volcker`).

Per search, the query's positive words (letters only, at least `MIN_LETTERS`, not stopwords, prefixes or `<CODE>`s)
are counted by the keyword index as it matches them (`KeywordIndex.word_counts`: one statement, started beside the
search). Only a word held by fewer than `Settings.spelling_min_docs` articles is questioned: it is stemmed by the
index itself (`KeywordIndex.stems`: FTS5's porter tokenizer through a temp table, or PostgreSQL's `to_tsvector`) and
the closest stem of the index's vocabulary (every stem held by at least that many articles, letters only; read when
a word is first questioned, and again, when a questioned stem is not in it, at most every `VOCABULARY_SECONDS`)
within `max_edits` (Damerau-Levenshtein over the stems, rapidfuzz) and held by at least `Settings.spelling_ratio`
times as many articles replaces it; the fewest edits win, then the most articles. A rare spelling the archive does
hold (`Equador` twice in Reuters) is questioned only when a close one is far more common (`Ecuador`, 91), and only
one edit away (a rare name is often one or two edits from a common word).

The word offered is what the archive writes: the typed word with its stem swapped (`earthqake` -> `earthquak` +
`e`) when that stems to the chosen stem and the articles holding it write it so, else the word of that stem in
those articles closest to the typed word (within `max_edits`; the commoner on a tie); else the next closest stem
(`TRIED_STEMS`). It takes the typed word's
case; the suggestion is the query as typed with those words replaced, operators, quotes and filters kept.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from archive.query import Query, parse_query
from archive.query.words import CODE, word_parts
from archive.search.terms import STOPWORDS
from archive.store import reads

if TYPE_CHECKING:
    from archive.archive import Archive
    from archive.config import Settings

STEM_CACHE = 20_000  # words whose index term (and whose respelling) a Speller remembers
TRIED_STEMS = 3  # the closest stems tried, best first, for one whose written form is close to the typed word
SAMPLE_ARTICLES = 10  # articles holding a chosen stem read for how it is written
WORD = re.compile(r"[a-z]+")
MIN_LETTERS = 4  # shorter words have too many neighbours one edit away (`tin`, `ton`, `tan`) to question
VOCABULARY_SECONDS = 600.0  # a vocabulary is read again after this long, when a questioned word is not in it


def max_edits(term: str, held: int = 0) -> int:
    """Edits allowed between a questioned stem and its replacement: 1 up to 5 letters or for a word the archive
    holds at all (a rare name one edit from a common word: `sapporo`, `damson`), else 2."""
    return 1 if len(term) <= 5 or held else 2


def questioned_words(query: Query) -> list[str]:
    """The lower-case words a suggestion may replace: positive words, not prefixes (the caller leaves out the
    `<CODE>`s of the query as typed, which the parser has made words)."""
    prefixes = set(query.prefixes)
    out: list[str] = []
    for token in query.positive_words:
        if token in prefixes:
            continue
        for part in word_parts(token):
            if len(part) >= MIN_LETTERS and part.isascii() and part.isalpha() and part not in STOPWORDS:
                out.append(part)
    return list(dict.fromkeys(out))


def closest(
    term: str, held: int, vocabulary: Mapping[str, int], terms: Sequence[str], least: int, ratio: float
) -> list[str]:
    """The vocabulary's stems that may replace `term` (held by `held` articles), best first: fewest edits, then
    most articles."""
    need = max(least, ratio * held)  # a word the archive never holds: any close word held by `least`
    found = process.extract(
        term, terms, scorer=DamerauLevenshtein.distance, score_cutoff=max_edits(term, held), limit=None
    )
    ranked = sorted((int(edits), -vocabulary[other], other) for other, edits, _ in found if other != term)
    return [other for _, count, other in ranked if -count >= need]


def respelled(word: str, word_stem: str, target: str) -> str:
    """`word` with its stem replaced by `target`, the rest it had beyond the stem kept (`earthqake`, stem
    `earthqak` -> `earthquak` + `e`); the caller checks that it stems to `target`."""
    shared = 0
    while shared < min(len(word), len(word_stem)) and word[shared] == word_stem[shared]:
        shared += 1
    kept = len(word_stem) - shared  # the stem's letters that are not the word's (`bankrupci` of `bankrupcy`: i)
    return target[: len(target) - kept] + word[shared:]


def in_case_of(typed: str, word: str) -> str:
    """`word` in the case `typed` was written in."""
    if typed.isupper() and len(typed) > 1:
        return word.upper()
    if typed[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def rewritten(typed: str, fixes: Mapping[str, str]) -> str:
    """The query as typed with each fixed word (whole words, any case) replaced."""
    for word, fixed in fixes.items():
        pattern = re.compile(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])", re.IGNORECASE)
        typed = pattern.sub(lambda m, fixed=fixed: in_case_of(m.group(0), fixed), typed)
    return typed


class Speller:
    """The archive's spelling suggestions (see the module's docstring); remembers the questioned words' index terms
    and respellings, and the index's vocabulary."""

    def __init__(self, archive: Archive, settings: Settings) -> None:
        self.archive = archive
        self.settings = settings
        self._lock = threading.Lock()  # the stem cache
        self._reading = threading.Lock()  # one vocabulary read at a time; a caller waiting for it gets it
        self._stems: OrderedDict[str, str] = OrderedDict()
        self._decided: OrderedDict[tuple[str, int, float | None], str | None] = OrderedDict()  # word -> offered
        self._vocabulary: dict[str, int] = {}
        self._terms: list[str] = []
        self._read_at: float | None = None

    def suggest(self, query: Query, typed: str) -> str | None:
        """The query as typed with its doubtful words respelled, or None when none is."""
        settings = self.settings
        least = settings.spelling_min_docs
        coded = {part for code in CODE.findall(typed) for part in word_parts(code)}  # a listing code is no word
        words = [w for w in questioned_words(query) if w not in coded] if least > 0 else []
        if not words:
            return None
        with self.archive.engine.connect() as conn:
            counted = self.archive.keyword.word_counts(conn, words, least)
        rare = [w for w in words if counted.get(w, 0) < least]
        if not rare:
            return None
        doubtful = self._stems_of(rare)
        held = {doubtful[w]: counted.get(w, 0) for w in doubtful}
        vocabulary, terms = self._read(least, missing=not set(doubtful.values()) <= self._vocabulary.keys())
        fixes: dict[str, str] = {}
        for word, word_stem in doubtful.items():
            key = (word, held[word_stem], self._read_at)  # decided again when its count or the vocabulary moves
            if key not in self._decided:
                options = closest(word_stem, held[word_stem], vocabulary, terms, least, settings.spelling_ratio)
                offered = next(
                    filter(None, (self._as_written(word, word_stem, t) for t in options[:TRIED_STEMS])), None
                )
                with self._lock:
                    self._decided[key] = offered
                    while len(self._decided) > STEM_CACHE:
                        self._decided.popitem(last=False)
            if self._decided.get(key):
                fixes[word] = self._decided[key]
        return rewritten(typed, fixes) if fixes else None

    def _stems_of(self, words: Sequence[str]) -> dict[str, str]:
        """The index term of each word: remembered (`STEM_CACHE` words), the others asked in one statement."""
        with self._lock:
            known = {w: self._stems[w] for w in words if w in self._stems}
            for w in known:
                self._stems.move_to_end(w)
        asked = [w for w in words if w not in known]
        if asked:
            with self.archive.engine.connect() as conn:
                found = self.archive.keyword.stems(conn, asked)
            with self._lock:
                self._stems.update(found)
                while len(self._stems) > STEM_CACHE:
                    self._stems.popitem(last=False)
            known.update(found)
        return known

    def _as_written(self, word: str, word_stem: str, target: str) -> str | None:
        """The word the archive writes for `target` that is closest to `word`: `word` respelled when that stems to
        `target` and a few articles holding it write it so, else their most common such word within `max_edits`
        of `word` (a stem is not a word, and a respelled ending may be none either: `disconection` -> `discont` +
        `ion`)."""
        guess = respelled(word, word_stem, target)
        keyword = self.archive.keyword
        with self.archive.engine.connect() as conn:
            ids = [a for a, _ in keyword.rank(conn, parse_query(target), SAMPLE_ARTICLES, 1.0)]
            written = Counter(
                w
                for text in reads.texts(conn, ids)
                for w in WORD.findall(text.lower())
                if w == guess or DamerauLevenshtein.distance(w, word, score_cutoff=max_edits(word)) <= max_edits(word)
            )
            stems = keyword.stems(conn, [guess, *written])
        forms = {w: n for w, n in written.items() if stems.get(w) == target}
        if guess in forms:
            return guess
        near = [(DamerauLevenshtein.distance(w, word), -n, w) for w, n in forms.items()]
        best = min(near, default=None)
        return best[2] if best and best[0] <= max_edits(word) else None

    def _read(self, least: int, missing: bool) -> tuple[dict[str, int], list[str]]:
        """The vocabulary, read when never read, or when `missing` and older than `VOCABULARY_SECONDS`."""
        with self._reading:
            stale = self._read_at is None or (missing and time.monotonic() - self._read_at > VOCABULARY_SECONDS)
            if stale:
                with self.archive.engine.connect() as conn:
                    counts = self.archive.keyword.vocabulary(conn, least)
                letters = {t: n for t, n in counts.items() if t.isascii() and t.isalpha()}
                self._vocabulary, self._terms = letters, list(letters)
                self._read_at = time.monotonic()
            return self._vocabulary, self._terms
