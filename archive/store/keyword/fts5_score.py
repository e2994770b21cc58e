"""BM25 of a driven match set computed as FTS5's bm25() computes it, without its whole-index walks.

bm25() computes each phrase's idf by running the phrase over the whole index (`xQueryPhrase` in
fts5Bm25GetData), and FTS5 answers a `rowid IN (list)` (how narrow filters drive a query, `FILTER_DRIVES`)
by running the match once per id, each run walking those postings again: `said` on one week of the
1,000,000-article scale archive (705 matches) cost 13 s. Those matches are few, so their scores are computed
here with fts5_aux.c's formula, from what FTS5 stores:

    score = sum over the expression's phrases i of idf_i * f_i * (K1 + 1) / (f_i + K1 * (1 - B + B * D / avgdl))

- f_i: the phrase's instances in the article, each weighted by its column's weight (`highlight()` per phrase,
  over the matches alone, marks each instance: counted in SQL);
- D: the article's length in tokens over all columns (`article_fts_docsize`, varints); avgdl: the index's
  token total over its row count (the averages record, `article_fts_data` id 1);
- idf_i = log((N - n_i + 0.5) / (n_i + 0.5)), floored at 1e-6, n_i the articles holding the phrase: counted
  newest first up to half the index (the idf is floored past it) or `DF_CAP`, else estimated from the id span
  of its newest `DF_CAP` + 1 matches (the share of the archive's ids they cover); remembered per phrase for
  `DF_SECONDS` (a count costs ~30 ns a posting: `said` ~15 ms at 1,000,000 articles, once a minute). Within
  `DF_SECONDS` of a write a remembered count may miss the articles written since.

Each quoted string of the expression is one phrase, as bm25() counts them (a word written twice counts
twice). A phrase under a NOT's right side never has an instance in a match: it adds nothing (no count).
`fts5_phrases.phrases` accepts the shapes where "a phrase counts exactly its instances in the article" holds in FTS5's
evaluation (every AND and NOT on the path from the root through ANDs, ORs only of phrases); other shapes,
and a phrase whose instances overlap (highlight() merges them), answer None: the caller scores with bm25().
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    text,
    union_all,
)

from archive.query import Query
from archive.query.words import word_parts
from archive.store.cards import CARDS
from archive.store.filters import article_filters
from archive.store.keyword.fts5_phrases import Phrase, any_of_phrases, phrases
from archive.store.keyword.fts5_schema import FTS, matches
from archive.store.keyword.fts5_syntax import COLUMNS, TABLE
from archive.store.keyword.fts5_words import id_bound
from archive.store.models import SignatureRow

K1 = 1.2  # fts5_aux.c's constants
B = 0.75
IDF_FLOOR = 1e-6
DF_CAP = 500_000  # a phrase's article count is exact up to this many (or half the index), else estimated (~15 ms)
DF_SECONDS = 60.0  # how long a phrase's article count is remembered
DF_MEMORY = 1024  # phrases whose article count is remembered
SCORES_SECONDS = 10.0  # how long a driven query's scores are remembered (while the index is unchanged)
SCORES_MEMORY = 64  # driven queries whose scores are remembered
OPEN = "\x01"  # highlight()'s marks: control characters no article is expected to hold (checked)
CLOSE = "\x02"


def _varints(blob: bytes) -> list[int]:
    """SQLite's varints (FTS5's sqlite3Fts5GetVarint): big-endian 7-bit groups, the ninth byte whole."""
    values, i = [], 0
    while i < len(blob):
        value = 0
        for n in range(9):
            byte = blob[i]
            i += 1
            if n == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                break
        values.append(value)
    return values


def _marks(multi: bool) -> list[str]:
    """What a phrase's statement reads of each article: its instances per column (highlight()'s marks, counted)
    and, for a phrase of several words (`multi`), the marked texts (`_separate`)."""
    counts = [
        f"coalesce(length(highlight({TABLE}, {c}, char(1), '')) - length({TABLE}.{name}), 0)"
        for c, name in enumerate(COLUMNS)
    ]
    return counts + [f"highlight({TABLE}, {c}, char(1), char(2))" if multi else "NULL" for c in range(len(COLUMNS))]


def _weighted(marks: Sequence[Any], words: int, weights: Sequence[float]) -> float | None:
    """A phrase's instances in one article weighted by column, from `_marks`' columns; None when one mark
    holds overlapping instances (highlight() merges them: the count would be short)."""
    width = len(COLUMNS)
    if words > 1 and not _separate(marks[width:], words):
        return None
    return sum(float(w) * int(c) for w, c in zip(weights, marks[:width], strict=True))


class DrivenBm25:
    """Computes bm25() for a few articles (`matches`, `scores`), remembering phrases' article counts and, while
    the index is unchanged (its averages record), a driven query's scores (a search asks for its page, its
    folded copies and its grouped scores)."""

    def __init__(self) -> None:
        self._counts: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._scores: OrderedDict[tuple, tuple[float, dict[int, float]]] = OrderedDict()
        self._lock = threading.Lock()

    def matches(
        self,
        conn: Connection,
        query: Query,
        match: str,
        drives: ColumnElement[bool],
        weights: Sequence[float],
        *,
        grouped: bool = False,
    ) -> dict[int, float] | None:
        """-bm25(article_fts, *weights) of the query's matches among the articles `drives` names (with
        `grouped`: only those that have near copies), or None for what is left to bm25() (`phrases`, overlaps).
        A one-phrase expression's instances are read by the statement that finds its matches."""
        found = phrases(match)
        if found is None:
            return None
        averages = bytes(conn.execute(text(f"SELECT block FROM {TABLE}_data WHERE id = 1")).scalar() or b"")
        key = (match, query.source, query.author, query.after, query.before, query.labels, tuple(weights), averages)
        now = time.monotonic()
        with self._lock:
            known = self._scores.get(key)
        if known is not None and now - known[0] < SCORES_SECONDS:
            scores = known[1]
        else:
            counted = [p for p in found if p.counted]
            distinct = list(dict.fromkeys(p.match for p in counted))
            conditions = [matches("fts_match", match), *article_filters(query, CARDS), drives]
            joined = FTS.join(CARDS, CARDS.c.id == FTS.c.rowid)
            frequencies: dict[tuple[str, int], float] | None
            if len(distinct) == 1:  # every mark is this phrase's (a NOT's phrases have no instance in a match)
                phrase, read = counted[0], {}
                columns = [literal_column(c) for c in _marks(phrase.words > 1)]
                for row in conn.execute(select(FTS.c.rowid, *columns).select_from(joined).where(*conditions)):
                    f = _weighted(row[1:], phrase.words, weights)
                    if f is None:
                        return None
                    read[(phrase.match, int(row[0]))] = f
                ids, frequencies = [i for _, i in read], read
            elif len(counted) == len(found) and any_of_phrases(match):  # matched: an article holding any of the phrases
                frequencies = self._frequencies_among(conn, counted, distinct, drives, weights)
                ids = sorted({i for _, i in frequencies or {}})
            else:
                ids = [int(i) for i in conn.scalars(select(FTS.c.rowid).select_from(joined).where(*conditions))]
                frequencies = self._frequencies(conn, counted, distinct, sorted(ids), weights)
            if frequencies is None:
                return None
            scores = self.scores(conn, counted, ids, frequencies, averages)
            with self._lock:
                self._scores[key] = (now, scores)
                while len(self._scores) > SCORES_MEMORY:
                    self._scores.popitem(last=False)
        if grouped and scores:
            copied = select(SignatureRow.article_id).where(
                SignatureRow.story_id.is_not(None), SignatureRow.article_id.in_(list(scores))
            )
            return {int(i): scores[int(i)] for i in conn.scalars(copied)}
        return dict(scores)

    def scores(
        self,
        conn: Connection,
        counted: list[Phrase],
        ids: Sequence[int],
        frequencies: dict[tuple[str, int], float],
        averages: bytes,
    ) -> dict[int, float]:
        """fts5_aux.c's sum over the counted phrases for each of `ids`, given their weighted instances."""
        wanted = sorted({int(i) for i in ids})
        totals = _varints(averages)
        if not wanted or not totals or totals[0] <= 0:
            return {}
        rows, tokens = totals[0], sum(totals[1:])
        avgdl = tokens / rows
        sizes = {
            int(i): sum(_varints(bytes(sz)))
            for i, sz in conn.execute(
                text(f"SELECT id, sz FROM {TABLE}_docsize WHERE id IN :ids").bindparams(
                    bindparam("ids", expanding=True)
                ),
                {"ids": wanted},
            )
        }
        distinct = list(dict.fromkeys(p.match for p in counted))
        idf = {
            m: max(math.log((rows - n + 0.5) / (n + 0.5)), IDF_FLOOR)
            for m, n in self.counts(conn, distinct, rows).items()
        }
        out: dict[int, float] = {}
        for article in wanted:
            norm = K1 * (1 - B + B * sizes.get(article, 0) / avgdl)
            score = 0.0
            for p in counted:
                f = frequencies.get((p.match, article), 0.0)
                score += idf[p.match] * ((f * (K1 + 1.0)) / (f + norm))
            out[article] = score
        return out

    def _frequencies_among(
        self,
        conn: Connection,
        found: list[Phrase],
        distinct: list[str],
        drives: ColumnElement[bool],
        weights: Sequence[float],
    ) -> dict[tuple[str, int], float] | None:
        """`_frequencies` of an OR of phrases over the articles `drives` names: the articles it returns are the
        matches (no statement finds them first)."""
        words = {p.match: p.words for p in found}
        parts = [
            select(
                literal_column(str(n)).label("phrase"),
                FTS.c.rowid.label("id"),
                *[literal_column(c).label(f"c{k}") for k, c in enumerate(_marks(words[m] > 1))],
            ).where(matches(f"fts_p{n}", m), drives)
            for n, m in enumerate(distinct)
        ]
        return _folded(conn.execute(union_all(*parts)), distinct, words, weights)

    def _frequencies(
        self, conn: Connection, found: list[Phrase], distinct: list[str], ids: list[int], weights: Sequence[float]
    ) -> dict[tuple[str, int], float] | None:
        """(phrase, article) -> its instances weighted by column: highlight() marks each one, one statement per
        phrase restricted to the matches (instances of one phrase never share a mark unless they overlap,
        which only a phrase of several words can: checked)."""
        if not ids:
            return {}
        words = {p.match: p.words for p in found}
        bound, params = id_bound(ids)
        parts = [
            f"SELECT {n}, rowid, {', '.join(_marks(words[m] > 1))} FROM {TABLE} WHERE {TABLE} MATCH :m{n} AND {bound}"
            for n, m in enumerate(distinct)
        ]
        params.update({f"m{n}": m for n, m in enumerate(distinct)})
        stmt = text(" UNION ALL ".join(parts)).bindparams(bindparam("ids", expanding=True))
        return _folded(conn.execute(stmt, params), distinct, words, weights)

    def counts(self, conn: Connection, matches: list[str], rows: int) -> dict[str, int]:
        """Articles holding each phrase (of `rows` in the index), as far as the idf can tell them apart: read
        newest first up to `cap` = min(DF_CAP, half the rows, rounded up). Exact when fewer; past half the
        rows, the idf is floored whatever the count (so exact too); else (past DF_CAP) estimated as its newest
        DF_CAP + 1 matches times the share of the archive's ids they span. Remembered for `DF_SECONDS`; one
        statement for the phrases not remembered."""
        now = time.monotonic()
        out: dict[str, int] = {}
        with self._lock:
            for m in matches:
                known = self._counts.get(m)
                if known is not None and now - known[0] < DF_SECONDS:
                    out[m] = known[1]
        asked = [m for m in matches if m not in out]
        if asked:
            top = int(conn.execute(text(f"SELECT max(id) FROM {TABLE}_docsize")).scalar() or 0)
            cap = min(DF_CAP, (rows + 1) // 2)
            parts = [
                f"SELECT {n}, count(*), min(rowid) FROM (SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH :m{n} "
                f"ORDER BY rowid DESC LIMIT {cap + 1})"
                for n in range(len(asked))
            ]
            params = {f"m{n}": m for n, m in enumerate(asked)}
            for n, found, oldest in conn.execute(text(" UNION ALL ".join(parts)), params):
                count = int(found)
                if count > cap and cap < (rows + 1) // 2:
                    count = max(count, round((count - 1) * top / (top - int(oldest) + 1)))  # k-1 over the k-th's span
                out[asked[int(n)]] = count
            with self._lock:
                for m in asked:
                    self._counts[m] = (now, out[m])
                    self._counts.move_to_end(m)
                while len(self._counts) > DF_MEMORY:
                    self._counts.popitem(last=False)
        return out


def _separate(marks: Sequence[str | None], words: int) -> bool:
    """True when every highlighted span holds one instance of a `words`-word phrase (no overlap merged two)."""
    for marked in marks:
        if marked is None:
            continue
        spans = marked.split(OPEN)[1:]
        for span in spans:
            inside, _, _ = span.partition(CLOSE)
            if len(word_parts(inside)) != words or CLOSE not in span:
                return False
    return True


def scored_rows(scores: dict[int, float]) -> Select:
    """(id, published, score) of the scored articles: the scores read back from one JSON parameter."""
    values = func.json_each(bindparam("driven_scores", json.dumps({str(k): v for k, v in scores.items()})))
    driven = values.table_valued("key", "value", name="driven")
    return select(
        CARDS.c.id.label("id"), CARDS.c.published_at.label("published"), driven.c.value.label("score")
    ).select_from(driven.join(CARDS, CARDS.c.id == cast(driven.c.key, Integer)))


def _folded(
    rows: Any, distinct: list[str], words: dict[str, int], weights: Sequence[float]
) -> dict[tuple[str, int], float] | None:
    """Rows of (phrase number, article id, marks per column...) -> (phrase, article) -> weighted instances; None
    when a mark holds overlapping instances (`_weighted`)."""
    out: dict[tuple[str, int], float] = {}
    for row in rows:
        m = distinct[int(row[0])]
        f = _weighted(row[2:], words[m], weights)
        if f is None:
            return None
        out[(m, int(row[1]))] = f
    return out
