"""The PostgreSQL keyword index on a real server: the tsquery compiler, matching rules, BM25, statistics.

The compiler's shapes are pure and run everywhere; the rest needs the server `make test` starts
(ARCHIVE_TEST_DATABASE_URL) and is skipped on the SQLite pass.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Connection, Engine, text

from archive.errors import BadQuery
from archive.query import MAX_TERMS, Query, parse_query
from archive.store.db import make_engine
from archive.store.keyword.postgres import PostgresKeywordIndex, _lexeme, to_tsquery_text
from tests.strategies import QUERIES
from tests.test_query import ROWS

INDEX = PostgresKeywordIndex()
needs_server = pytest.mark.postgres_only("runs SQL on the PostgreSQL server")
INSERT = text(
    "INSERT INTO articles (uid, title, body, content_hash, ingested_at, extra) "
    "VALUES (:uid, :title, :body, :uid, '2024-01-01', '{}')"
)


def test_tsquery_shapes() -> None:
    assert to_tsquery_text(parse_query("iran cameras")) == "('iran' | 'cameras')"
    assert to_tsquery_text(parse_query("iran")) == "'iran'"
    assert to_tsquery_text(parse_query('"climate change"')) == "('climate' <-> 'change')"
    assert (
        to_tsquery_text(parse_query('"climate change" europe -weather -"bad news"'))
        == "(('climate' <-> 'change') & (('climate' <-> 'change') | 'europe')) & !('weather' | ('bad' <-> 'news'))"
    )
    assert to_tsquery_text(parse_query("U.S. don't")) == "(('u' <-> 's') | ('don' <-> 't'))"
    assert to_tsquery_text(parse_query("🙂 !!! ***")) is None
    assert to_tsquery_text(parse_query("-iran")) is None
    # Quotes and backslashes cannot survive word_parts, but an operand's quoting would hold them anyway.
    assert to_tsquery_text(Query(terms=("o'neil\\",))) == "('o' <-> 'neil')"
    assert _lexeme("o'neil\\") == "'o''neil\\\\'"


# -- on the server ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(databases) -> Iterator[Engine]:
    url = databases.new()
    if url is None:
        pytest.skip("PostgreSQL only: runs SQL on the PostgreSQL server")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(INSERT, [{"uid": f"row-{n}", "title": t, "body": b} for n, (t, b) in enumerate(ROWS, start=1)])
    yield engine
    engine.dispose()
    databases.drop(url)


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        yield connection
        connection.rollback()


def match(conn: Connection, q: str) -> list[int]:
    """Row numbers (1-based, as in ROWS) of the matches, best first."""
    ranked = INDEX.rank(conn, parse_query(q), 10, 3.0)
    uids = dict(conn.execute(text("SELECT id, uid FROM articles")).all())
    return [int(uids[i].removeprefix("row-")) for i, _ in ranked]


@needs_server
def test_stemming_through_the_compiled_query(conn: Connection) -> None:
    assert match(conn, "disconnection") == [1]
    assert match(conn, "camera") == [1]


@needs_server
def test_or_semantics_rank_more_words_higher(conn: Connection) -> None:
    hits = match(conn, "what happened to the Iran surveillance cameras in europe?")
    assert hits[0] == 1
    assert set(hits) >= {1, 2, 3}


@needs_server
def test_phrases_are_required(conn: Connection) -> None:
    assert match(conn, '"climate change" iran') == [3]
    assert match(conn, '"change climate"') == []


@needs_server
def test_exclusions(conn: Connection) -> None:
    assert set(match(conn, "europe")) == {2, 3}
    assert match(conn, "europe -climate") == [2]
    assert match(conn, 'europe -"bad news"') == [3]


@needs_server
def test_operators_are_words(conn: Connection) -> None:
    assert match(conn, '"NEAR protocol"') == [4]
    assert match(conn, "gates") == [4]


@needs_server
def test_punctuated_and_accented_tokens(conn: Connection) -> None:
    assert match(conn, "U.S.") == [2]
    assert match(conn, "don't") == [3]
    assert match(conn, "ecole cafe") == [5]
    assert match(conn, "école naïve") == [5]


@needs_server
def test_nothing_positive_after_normalisation_matches_nothing(conn: Connection) -> None:
    # A lone combining mark is a word to the parser but no lexeme to PostgreSQL: what is left,
    # "not 0", must not match every other article.
    query = parse_query("\u0300 -0")
    assert to_tsquery_text(query) is not None
    assert INDEX.rank(conn, query, 10, 3.0) == []
    assert INDEX.page(conn, query, sort="newest", limit=10, offset=0, title_weight=3.0) == []
    assert INDEX.facet_counts(conn, query, fields=["topics"]) == ({}, {"topics": {}})


def _parse_or_none(q: str) -> Query | None:
    try:
        return parse_query(q)
    except BadQuery:
        return None


@needs_server
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=QUERIES)
def test_property_never_a_syntax_error(conn: Connection, q: str) -> None:
    """Whatever the user types, ranking, paging, counting and the semantic side's restriction run."""
    query = _parse_or_none(q)
    if query is None:
        return
    INDEX.rank(conn, query, 5, 3.0)
    INDEX.page(conn, query, sort="newest", limit=5, offset=0, title_weight=3.0)
    INDEX.facet_counts(conn, query, stories=True, fields=["topics"])
    restriction = INDEX.restriction(query)
    if restriction is not None:
        from sqlalchemy import select

        from archive.store.models import ArticleRow

        conn.execute(select(ArticleRow.id).where(restriction)).all()


@needs_server
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=QUERIES.filter(bool))
def test_property_huge_queries_are_cheap_and_safe(conn: Connection, q: str) -> None:
    big = (q + " ") * (10_000 // (len(q) + 1) + 1)  # a ~10 KB query
    query = _parse_or_none(big)
    if query is None:
        return
    assert len(query.terms) <= MAX_TERMS
    INDEX.rank(conn, query, 5, 3.0)


# -- BM25 ---------------------------------------------------------------------------------

# No English stop words in these texts: FTS5 counts every token, PostgreSQL leaves stop words out.
BM25_ROWS = [
    ("Harbour report", "ferry crossings resumed after storms harbour cranes idle"),
    ("Harbour report", "harbour cranes idle harbour workers waiting harbour gates closed"),
    ("Rail report", "trains delayed signals failed harbour line closed"),
    ("Market report", "shares fell sharply traders worried rates"),
    ("Ferry strike", "crews walked out wages dispute unresolved"),
    ("Weather report", "storms expected coast gales harbour warnings"),
]


@pytest.fixture
def bm25(databases) -> Iterator[tuple[Connection, dict[int, int]]]:
    url = databases.new()
    if url is None:
        pytest.skip("PostgreSQL only: runs SQL on the PostgreSQL server")
    engine = make_engine(url)
    with engine.begin() as c:
        c.execute(INSERT, [{"uid": f"b-{n}", "title": t, "body": b} for n, (t, b) in enumerate(BM25_ROWS)])
    with engine.connect() as c:
        ids = {int(i): int(u.removeprefix("b-")) for i, u in c.execute(text("SELECT id, uid FROM articles"))}
        yield c, ids
    engine.dispose()
    databases.drop(url)


def fts5_scores(q: str, title_weight: float) -> dict[int, float]:
    """SQLite FTS5's bm25() over the same rows and query, by row number."""
    from archive.store.keyword.fts5 import to_fts5

    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(title, body, tokenize='porter unicode61 remove_diacritics 2')")
    db.executemany("INSERT INTO t(rowid, title, body) VALUES (?, ?, ?)", [(n, *r) for n, r in enumerate(BM25_ROWS)])
    rows = db.execute(f"SELECT rowid, -bm25(t, {title_weight}, 1.0) FROM t WHERE t MATCH ?", (to_fts5(parse_query(q)),))
    scores = {int(r): float(s) for r, s in rows}
    db.close()
    return scores


@needs_server
@pytest.mark.parametrize("title_weight", [1.0, 3.0])
@pytest.mark.parametrize("q", ["harbour", "ferry harbour", "harbour cranes storms", '"cranes idle" harbour'])
def test_bm25_equals_fts5_on_the_same_rows(bm25, q: str, title_weight: float) -> None:
    conn, ids = bm25
    ours = {ids[i]: s for i, s in INDEX.rank(conn, parse_query(q), 10, title_weight)}
    theirs = fts5_scores(q, title_weight)
    if '"' not in q:  # FTS5 scores a phrase as one unit, PostgreSQL scores its words: same matches only
        assert ours == pytest.approx(theirs, rel=1e-6)
    assert set(ours) == set(theirs)


@needs_server
def test_a_rarer_word_ranks_higher(bm25) -> None:
    conn, ids = bm25
    # Rows 0 and 2 each hold "ferry"/"trains" once beside "harbour"; "trains" is rarer (1 row) than "ferry" (2).
    ranked = [ids[i] for i, _ in INDEX.rank(conn, parse_query("trains ferry"), 10, 1.0)]
    assert ranked[0] == 2
    # The same story with a common word (harbour: 4 rows) scores less than with a rare one (gales: 1 row).
    common = dict(INDEX.rank(conn, parse_query("harbour"), 10, 1.0))
    rare = dict(INDEX.rank(conn, parse_query("gales"), 10, 1.0))
    weather = next(i for i, n in ids.items() if n == 5)
    assert rare[weather] > common[weather]


@needs_server
def test_title_weight_lifts_title_matches(bm25) -> None:
    conn, ids = bm25
    # "ferry" is in row 4's title and in row 0's body.
    flat = {ids[i]: s for i, s in INDEX.rank(conn, parse_query("ferry"), 10, 1.0)}
    weighted = [ids[i] for i, _ in INDEX.rank(conn, parse_query("ferry"), 10, 3.0)]
    assert weighted[0] == 4
    lifted = {ids[i]: s for i, s in INDEX.rank(conn, parse_query("ferry"), 10, 3.0)}
    assert lifted[4] / lifted[0] > flat[4] / flat[0]


@needs_server
def test_statistics_follow_inserts_updates_and_deletes(bm25) -> None:
    conn, _ = bm25

    def stats() -> tuple[dict[str, int], tuple[int, int]]:
        terms = dict(conn.execute(text("SELECT lexeme, df FROM keyword_terms WHERE df > 0")).all())
        return terms, tuple(conn.execute(text("SELECT docs, tokens FROM keyword_totals")).one())

    def recount() -> tuple[dict[str, int], tuple[int, int]]:
        terms = dict(
            conn.execute(
                text("SELECT e.lexeme, count(*) FROM articles a, unnest(a.search_vector) e GROUP BY e.lexeme")
            ).all()
        )
        totals = conn.execute(text("SELECT count(*), coalesce(sum(search_length), 0) FROM articles")).one()
        return terms, tuple(totals)

    assert stats() == recount()
    assert stats()[0]["harbour"] == 4 and stats()[1][0] == len(BM25_ROWS)
    conn.execute(
        INSERT,
        [
            {"uid": "x-1", "title": "Harbour", "body": "dredging harbour"},
            {"uid": "x-2", "title": "Mines", "body": "copper"},
        ],
    )
    conn.execute(text("UPDATE articles SET body = 'quiet day' WHERE uid = 'b-1'"))
    conn.execute(text("UPDATE articles SET extra = '{\"a\": 1}' WHERE uid = 'b-2'"))  # not the text: no change
    conn.execute(text("DELETE FROM articles WHERE uid IN ('b-5', 'x-2')"))
    assert stats() == recount()
    assert stats()[0]["harbour"] == 4 and stats()[1][0] == len(
        BM25_ROWS
    )  # +1 inserted, -1 deleted (b-1 keeps its title)
    conn.rollback()


@needs_server
def test_articles_without_vectors_are_indexed_on_create(bm25) -> None:
    conn, _ = bm25
    # As if stored before the index existed: no vector, and the statistics recount on create.
    conn.execute(text("ALTER TABLE articles DISABLE TRIGGER USER"))
    conn.execute(text("UPDATE articles SET search_vector = NULL, search_length = NULL"))
    conn.execute(text("UPDATE keyword_totals SET docs = 0, tokens = 0"))
    conn.execute(text("ALTER TABLE articles ENABLE TRIGGER USER"))
    assert INDEX.rank(conn, parse_query("harbour"), 10, 1.0) == []
    INDEX.create(conn)
    assert len(INDEX.rank(conn, parse_query("harbour"), 10, 1.0)) == 4
    assert conn.execute(text("SELECT docs FROM keyword_totals")).scalar_one() == len(BM25_ROWS)
    INDEX.create(conn)  # idempotent
    assert conn.execute(text("SELECT df FROM keyword_terms WHERE lexeme = 'harbour'")).scalar_one() == 4
    conn.rollback()


@needs_server
@pytest.mark.parametrize("q", ["harbour cranes", "harbour storms trains", "report harbour", '"harbour report" cranes'])
def test_the_bounded_first_pass_gives_the_exact_order(bm25, monkeypatch, q: str) -> None:
    """With a bound of 2 every query here takes the rarest-lexeme first pass; pages, deep pages (past the
    first pass: the fallback) and date-sorted ranks must equal the unbounded order."""
    from archive.store.keyword import postgres_plan

    conn, _ = bm25
    query = parse_query(q)

    def everything() -> tuple[list, list, list]:
        pages = [INDEX.page(conn, query, sort="relevance", limit=2, offset=o, title_weight=3.0) for o in range(0, 6, 2)]
        dated = INDEX.page(conn, query, sort="newest", limit=10, offset=0, title_weight=3.0)
        return INDEX.rank(conn, query, 10, 3.0), pages, sorted(dated)

    exact = everything()
    monkeypatch.setattr(postgres_plan, "CANDIDATE_BOUND", 2)
    assert postgres_plan._plan(conn, query).essential, "the first pass should apply"
    bounded = everything()
    assert bounded[0] == exact[0]
    assert bounded[1] == exact[1]
    assert bounded[2] == exact[2]
