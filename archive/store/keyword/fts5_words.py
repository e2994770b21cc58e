"""Which words each of a few articles holds: one FTS5 statement for all the words (the re-ranking's facts, "why it
matched")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, text

from archive.query import Node
from archive.store.keyword.fts5_syntax import TABLE, expression_to_fts5

FEW_IDS = 50  # up to this many ids, FTS5 looks each one up
RANGE_SPAN = 20_000  # ids within this span are answered from the range's postings (<= this many a word)
RANGE_PER_ID = 40  # above, the range is read when it spans at most this many ids per id asked (a seek ~ 40 postings)


def id_bound(ids: Sequence[int]) -> tuple[str, dict[str, Any]]:
    """A rowid condition for these ids (ascending, bound as `:ids`, expanding): their range's postings read in one
    pass when they are dense (`RANGE_SPAN`, `RANGE_PER_ID`), else each id looked up by FTS5."""
    low, high = ids[0], ids[-1]
    span = high - low
    if span <= RANGE_SPAN or (len(ids) > FEW_IDS and span < RANGE_PER_ID * len(ids)):
        return "rowid BETWEEN :low AND :high AND +rowid IN :ids", {"low": low, "high": high, "ids": list(ids)}
    return "rowid IN :ids", {"ids": list(ids)}


def words_in(conn: Connection, words: dict[str, Node], article_ids: Sequence[int]) -> dict[int, set[str]]:
    """Which of `words` (label -> positive tree) each of `article_ids` matches: one statement for all of them
    (a UNION ALL of one FTS5 match per word, each restricted to the ids).

    FTS5 answers a `rowid IN (...)` list by running the match once per id (~20 us each: right for a page of
    ids spread over a big archive); when the ids are dense (their range within `RANGE_SPAN`, or at most
    `RANGE_PER_ID` times their number) each word's postings within the range are read in one pass instead and the ids
    kept by SQLite (`+rowid IN`: the unary plus keeps the list away from FTS5), which is what long queries
    on a small archive ask (15 words x 300 ids on SciFact: one statement instead of 15)."""
    matches = {label: m for label, node in words.items() if (m := expression_to_fts5(node)) is not None}
    wanted = sorted({int(i) for i in article_ids})
    found: dict[int, set[str]] = {}
    if not matches or not wanted:
        return found
    labels = list(matches)
    bound, bounds = id_bound(wanted)
    parts = [
        f"SELECT {n} AS word, rowid FROM {TABLE} WHERE {TABLE} MATCH :m{n} AND {bound}" for n in range(len(labels))
    ]
    params: dict[str, Any] = {f"m{n}": matches[label] for n, label in enumerate(labels)}
    union = " UNION ALL ".join(parts)
    stmt = text(f"SELECT rowid, group_concat(word) FROM ({union}) GROUP BY rowid")  # one row per article
    for rowid, numbers in conn.execute(stmt.bindparams(bindparam("ids", expanding=True)), {**params, **bounds}):
        found[int(rowid)] = {labels[int(n)] for n in str(numbers).split(",")}
    return found
