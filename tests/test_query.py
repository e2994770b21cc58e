"""Unit and property tests for archive.query (the parser) and its safe FTS5 compilation."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.errors import BadQuery
from archive.query import MAX_TERM_CHARS, MAX_TERMS, And, Or, Query, Term, parse_date, parse_query
from archive.store.keyword.fts5 import to_fts5
from tests.strategies import QUERIES

ROWS = [
    ("Iran cameras", "The IAEA said Iran would disconnect 27 surveillance cameras."),
    ("Weather", "A sunny day in Europe and the U.S. with no bad news."),
    ("Climate", "Don't stop: climate change is accelerating in Europe."),
    ("Markets", "Stocks fell; the NEAR protocol and OR gates are unrelated. AND NOT is a word pair."),
    ("Ecole", "L'\u00e9cole de Paris \u2014 na\u00efve caf\u00e9 r\u00e9sum\u00e9."),
]


@pytest.fixture(scope="module")
def fts() -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(title, body, tokenize='porter unicode61 remove_diacritics 2')")
    db.executemany("INSERT INTO t(title, body) VALUES (?, ?)", ROWS)
    yield db
    db.close()


def match(db: sqlite3.Connection, text: str) -> list[int]:
    expr = to_fts5(parse_query(text))
    assert expr is not None
    return [r[0] for r in db.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY rank", (expr,))]


# --- parsing -------------------------------------------------------------------------


def test_bare_words_are_terms() -> None:
    q = parse_query("  Iran camera   disconnection ")
    assert q.terms == ("Iran", "camera", "disconnection")
    assert q.phrases == () and q.excluded == ()
    assert q.text_for_embedding == "Iran camera disconnection"
    assert not q.is_empty and not q.has_filters


@pytest.mark.parametrize(
    ("typed", "embedded"),
    [
        ("EXOVIR <XOVR> TO GET EUROPEAN PATENT", "EXOVIR TO GET EUROPEAN PATENT"),
        ("CCR VIDEO<CCCR.O> GETS OFFER", "CCR VIDEO GETS OFFER"),  # glued to a word: the word stays
        ("IBM <IBM>, NYNEX <NYN> TO PARTICIPATE", "IBM NYNEX TO PARTICIPATE"),  # nothing left but a comma: gone
        ('"acme <ACM> talks" -x', "acme talks"),
        ("<XOVR>", "<XOVR>"),  # codes alone: embedded as typed
        ("p < 0.05 and x>3", "p 0.05 and x>3"),  # not a code
    ],
)
def test_codes_in_angle_brackets_are_matched_but_not_embedded(typed: str, embedded: str) -> None:
    q = parse_query(typed)
    assert q.text_for_embedding == embedded
    if "<XOVR>" in typed:
        assert "<XOVR>" in q.terms  # the keyword side still matches the code as a word


def test_duplicate_terms_are_collapsed_case_insensitively() -> None:
    assert parse_query("iran Iran IRAN cameras").terms == ("iran", "cameras")


def test_phrase_and_excluded_phrase() -> None:
    q = parse_query('"climate change" europe -"bad news" -weather')
    assert q.phrases == (("climate", "change"),)
    assert q.terms == ("europe",)
    assert q.excluded == ("weather",)
    assert q.excluded_phrases == (("bad", "news"),)
    assert q.text_for_embedding == "climate change europe"


def test_empty_phrase_and_lone_minus_are_ignored() -> None:
    q = parse_query('"" - "   " word -')
    assert q.terms == ("word",) and q.phrases == () and q.excluded == ()


def test_unbalanced_quote_reads_rest_as_words() -> None:
    q = parse_query('iran "camera disconnection')
    assert q.terms == ("iran", "camera", "disconnection")
    assert q.phrases == ()


def test_quote_inside_word_starts_a_phrase() -> None:
    q = parse_query('foo"bar baz" qux')
    assert q.terms == ("foo", "qux")
    assert q.phrases == (("bar", "baz"),)


def test_upper_case_operators_only() -> None:
    q = parse_query("OR iran OR cameras OR")  # dangling ORs dropped; OR is the default
    assert q.terms == ("iran", "cameras") and q.boolean is None
    q = parse_query("OR iran OR cameras AND nuclear OR")  # AND binds tighter: iran OR (cameras AND nuclear)
    assert q.terms == () and q.boolean == Or((Term("iran"), And((Term("cameras"), Term("nuclear")))))
    assert q.text_for_embedding == "iran cameras nuclear"
    q = parse_query("cats or dogs and birds")
    assert q.terms == ("cats", "or", "dogs", "and", "birds")


def test_not_keyword_excludes_next_word_or_phrase() -> None:
    q = parse_query('iran NOT cameras NOT "bad news" NOT')
    assert q.terms == ("iran",)
    assert q.excluded == ("cameras",)
    assert q.excluded_phrases == (("bad", "news"),)


def test_filters() -> None:
    q = parse_query('iran source:reuters author:"Jane Doe" after:2022-01-01 before:2022-07-01')
    assert q.terms == ("iran",)
    assert q.source == "reuters"
    assert q.author == "Jane Doe"
    assert q.after == date(2022, 1, 1)
    assert q.before == date(2022, 7, 1)
    assert q.has_filters
    assert q.text_for_embedding == "iran"


def test_quoted_filter_value_and_case_insensitive_field() -> None:
    q = parse_query('Source:"New York Times" climate')
    assert q.source == "New York Times"
    assert q.terms == ("climate",)


def test_filter_only_query_is_empty_but_filtered() -> None:
    q = parse_query("source:reuters")
    assert q.is_empty and q.has_filters
    assert to_fts5(q) is None


def test_empty_filter_value_is_ignored() -> None:
    q = parse_query('source: author:"" after: climate')
    assert q.source is None and q.author is None and q.after is None
    assert q.terms == ("climate",)


def test_last_filter_wins() -> None:
    assert parse_query("source:a source:b").source == "b"


def test_unknown_field_is_plain_words() -> None:
    q = parse_query("foo:bar 12:30")
    assert q.terms == ("foo", "bar", "12", "30")
    assert q.source is None


@pytest.mark.parametrize(
    "text, name",
    [
        ("after:yesterday", "after"),
        ("after:2022-13-40", "after"),
        ("before:2022-02-30", "before"),
        ("before:22-01-01", "before"),
        ('after:"2022 01 01"', "after"),
    ],
)
def test_bad_dates_raise_bad_query_naming_the_filter(text: str, name: str) -> None:
    with pytest.raises(BadQuery) as info:
        parse_query(text)
    assert info.value.param == "q"
    assert info.value.status == 400
    assert f"{name}: expects a date as YYYY-MM-DD" in info.value.message


def test_after_later_than_before_raises() -> None:
    with pytest.raises(BadQuery, match="earlier than"):
        parse_query("after:2023-01-01 before:2022-01-01")


def test_negated_filter_raises() -> None:
    with pytest.raises(BadQuery) as info:
        parse_query("iran -source:reuters")
    assert info.value.param == "q"


def test_parse_date_for_api_parameters() -> None:
    assert parse_date(" 2022-03-04 ", "after") == date(2022, 3, 4)
    with pytest.raises(BadQuery) as info:
        parse_date("03/04/2022", "after")
    assert info.value.param == "after"


def test_exclusions_only_is_empty() -> None:
    q = parse_query('-iran -"bad news"')
    assert q.is_empty
    assert to_fts5(q) is None


def test_control_characters_are_separators() -> None:
    assert parse_query("a\x00b\tc").terms == ("a", "b", "c")


def test_caps_keep_huge_queries_small() -> None:
    q = parse_query(" ".join(f"w{i}" for i in range(5000)) + " " + "x" * 10_000)
    assert len(q.terms) == MAX_TERMS
    assert all(len(t) <= MAX_TERM_CHARS for t in q.terms)
    expr = to_fts5(q)
    assert expr is not None and len(expr) < 64 * (MAX_TERM_CHARS + 8)


def test_query_constructed_directly_gets_embedding_text() -> None:
    q = Query(terms=("a",), phrases=(("b", "c"),))
    assert q.text_for_embedding == "a b c"
    assert Query().is_empty


# --- FTS5 compilation -----------------------------------------------------------------


def test_fts5_shapes() -> None:
    assert to_fts5(parse_query("iran cameras")) == '("iran" OR "cameras")'
    assert to_fts5(parse_query("iran")) == '"iran"'
    assert to_fts5(parse_query('"climate change"')) == '"climate change"'
    assert (
        to_fts5(parse_query('"climate change" europe -weather -"bad news"'))
        == '("climate change" AND ("climate change" OR "europe")) NOT ("weather" OR "bad news")'
    )


def test_fts5_sanitises_tokens() -> None:
    assert to_fts5(parse_query("U.S.")) == '"u s"'
    assert to_fts5(parse_query("don't")) == '"don t"'
    assert to_fts5(parse_query("NEAR AND OR NOT")) == '"near"'
    assert to_fts5(parse_query("🙂 !!! ***")) is None
    assert to_fts5(parse_query('🙂 "" iran')) == '"iran"'


def test_fts5_stemming_through_the_compiled_query(fts: sqlite3.Connection) -> None:
    assert match(fts, "disconnection") == [1]
    assert match(fts, "camera") == [1]


def test_fts5_or_semantics_rank_more_words_higher(fts: sqlite3.Connection) -> None:
    hits = match(fts, "what happened to the Iran surveillance cameras in europe?")
    assert hits[0] == 1
    assert set(hits) >= {1, 2, 3}


def test_fts5_phrases_are_required(fts: sqlite3.Connection) -> None:
    assert match(fts, '"climate change" iran') == [3]
    assert match(fts, '"change climate"') == []


def test_fts5_exclusions(fts: sqlite3.Connection) -> None:
    assert set(match(fts, "europe")) == {2, 3}
    assert match(fts, "europe -climate") == [2]
    assert match(fts, 'europe -"bad news"') == [3]


def test_fts5_keywords_are_words(fts: sqlite3.Connection) -> None:
    assert match(fts, '"NEAR protocol"') == [4]
    assert match(fts, '"AND NOT"') == [4]


def test_fts5_punctuated_and_accented_tokens(fts: sqlite3.Connection) -> None:
    assert match(fts, "U.S.") == [2]
    assert match(fts, "don't") == [3]
    assert match(fts, "ecole cafe") == [5]


# --- properties -----------------------------------------------------------------------


def _parse_or_bad(text: str) -> Query | None:
    try:
        return parse_query(text)
    except BadQuery as exc:
        assert exc.param == "q"
        return None


@settings(max_examples=300, deadline=None)
@given(text=QUERIES)
def test_property_fts5_never_a_syntax_error(fts: sqlite3.Connection, text: str) -> None:
    q = _parse_or_bad(text)
    if q is None:
        return
    expr = to_fts5(q)
    if expr is None:
        return
    fts.execute("SELECT rowid FROM t WHERE t MATCH ?", (expr,)).fetchall()


@settings(max_examples=30, deadline=None)
@given(text=QUERIES.filter(bool))
def test_property_huge_queries_are_cheap_and_safe(fts: sqlite3.Connection, text: str) -> None:
    big = (text + " ") * (10_000 // (len(text) + 1) + 1)  # a ~10 KB query
    assert len(big) >= 10_000
    q = _parse_or_bad(big)
    if q is None:
        return
    assert len(q.terms) <= MAX_TERMS
    expr = to_fts5(q)
    if expr is not None:
        fts.execute("SELECT rowid FROM t WHERE t MATCH ?", (expr,)).fetchall()


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(
        st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=10), min_size=1, max_size=8
    )
)
def test_property_plain_words_round_trip(words: list[str]) -> None:
    text = " ".join(words)
    q = parse_query(text)
    keywords = {"OR", "AND", "NOT"}
    expected = [w for w in words if w not in keywords]
    assert q.text_for_embedding.split() == expected or "NOT" in words
    assert not q.phrases and not q.has_filters


@pytest.mark.parametrize(
    ("q", "terms", "boolean"),
    [
        # A pasted headline in capitals: its AND, OR and NOT are words, not operators.
        ("MALAYSIA MAY NOT MEET 1987 OIL PALM TARGET", 8, False),
        ("COFFEE, SUGAR AND COCOA EXCHANGE NAMES CHAIRMAN", 7, False),
        # Mixed case: operators as ever.
        ("coffee AND brazil", 0, True),
        ("Iran NOT cameras", 1, True),
        ("IRAN NOT", 1, False),  # one word besides the operator: the dangling NOT is dropped, as before
    ],
)
def test_operators_in_a_query_typed_in_capitals_are_words(q, terms, boolean):
    query = parse_query(q)
    assert len(query.terms) == terms
    assert (query.boolean is not None) is boolean
