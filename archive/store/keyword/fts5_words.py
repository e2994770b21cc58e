"""Which words each of a few articles holds: one FTS5 statement for all the words (the re-ranking's facts, "why it
matched"); and the index's terms with their article counts (`fts5vocab`: spelling suggestions)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, bindparam, text

from archive.query import Node
from archive.store.keyword.fts5_schema import TOKENIZE
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


VOCABULARY = "article_fts_vocab"  # an `fts5vocab` 'row' table over the index, in each connection's temp schema
STEMMER = "article_fts_stems"  # a temp FTS5 table with the index's tokenizer: what the index makes of a word
STEMMED = "article_fts_stems_vocab"  # its `fts5vocab` 'instance' table: (row, term)


@contextmanager
def _temp_writes(conn: Connection) -> Iterator[None]:
    """Statements that write the connection's temp schema. A read-only archive's connection (`mode=ro` and
    `query_only`, store/db.py) lifts `query_only` for them: `mode=ro` still keeps the archive's file unwritten, and
    the temp schema is the connection's own."""
    query_only = bool(conn.exec_driver_sql("PRAGMA query_only").scalar())
    if query_only:
        conn.exec_driver_sql("PRAGMA query_only=OFF")
    try:
        yield
    finally:
        if query_only:
            conn.exec_driver_sql("PRAGMA query_only=ON")


def _temp_table(conn: Connection, name: str, definition: str) -> None:
    """Create a temp virtual table once per pooled connection: committed at once, so that the transaction's
    rollback when the connection goes back to the pool does not drop it (the callers begin with it)."""
    if not conn.exec_driver_sql(f"SELECT 1 FROM temp.sqlite_master WHERE name = '{name}'").first():
        with _temp_writes(conn):
            conn.exec_driver_sql(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{name} USING {definition}")
        conn.commit()


def term_counts(conn: Connection, terms: Sequence[str]) -> dict[str, int]:
    """Articles holding each term (FTS5 reads each term's postings alone: `term IN` is an index look-up)."""
    if not terms:
        return {}
    _temp_table(conn, VOCABULARY, f"fts5vocab(main, {TABLE}, row)")
    rows = conn.execute(
        text(f"SELECT term, doc FROM temp.{VOCABULARY} WHERE term IN :terms").bindparams(
            bindparam("terms", expanding=True)
        ),
        {"terms": list(dict.fromkeys(terms))},
    )
    found = {term: int(doc) for term, doc in rows}
    return {term: found.get(term, 0) for term in terms}


def word_counts(conn: Connection, words: Sequence[str], least: int) -> dict[str, int]:
    """Articles matching each word, counted up to `least` (FTS5 stops reading a word's postings there): one
    `UNION ALL` of a limited count per word."""
    words = list(dict.fromkeys(words))
    if not words:
        return {}
    parts = [
        f"SELECT {n} AS n, (SELECT count(*) FROM (SELECT 1 FROM {TABLE} WHERE {TABLE} MATCH :w{n} LIMIT :least)) AS c"
        for n in range(len(words))
    ]
    values: dict[str, Any] = {f"w{n}": '"' + w.replace('"', '""') + '"' for n, w in enumerate(words)}
    rows = conn.execute(text(" UNION ALL ".join(parts)), {**values, "least": least})
    return {words[int(n)]: int(c) for n, c in rows}


def vocabulary(conn: Connection, min_docs: int) -> dict[str, int]:
    """Every term held by at least `min_docs` articles (a walk of the whole index: 0.2 s for Reuters' 18,697)."""
    _temp_table(conn, VOCABULARY, f"fts5vocab(main, {TABLE}, row)")
    rows = conn.execute(text(f"SELECT term, doc FROM temp.{VOCABULARY} WHERE doc >= :least"), {"least": min_docs})
    return {term: int(doc) for term, doc in rows}


def stems(conn: Connection, words: Sequence[str]) -> dict[str, str]:
    """The index term of each word (its first, for a word the tokenizer splits), by the index's own tokenizer:
    the words go through a temp FTS5 table of the same tokenizer, whose terms are read back."""
    words = list(dict.fromkeys(words))
    if not words:
        return {}
    _temp_table(conn, STEMMER, f"fts5(w, {TOKENIZE})")
    _temp_table(conn, STEMMED, f"fts5vocab(temp, {STEMMER}, instance)")
    with _temp_writes(conn):
        conn.exec_driver_sql(f"DELETE FROM temp.{STEMMER}")
        conn.execute(
            text(f"INSERT INTO temp.{STEMMER}(rowid, w) VALUES (:row, :w)"),
            [{"row": n, "w": w} for n, w in enumerate(words)],
        )
        found: dict[int, str] = {}
        for row, term in conn.exec_driver_sql(f"SELECT doc, term FROM temp.{STEMMED} ORDER BY doc, offset"):
            found.setdefault(int(row), term)
        conn.exec_driver_sql(f"DELETE FROM temp.{STEMMER}")
    return {w: found[n] for n, w in enumerate(words) if n in found}


class Fts5Words:
    """The index's word look-ups (`KeywordIndex.word_counts`, `term_counts`, `vocabulary`, `stems`)."""

    word_counts = staticmethod(word_counts)
    term_counts = staticmethod(term_counts)
    vocabulary = staticmethod(vocabulary)
    stems = staticmethod(stems)
