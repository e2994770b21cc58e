"""The Boolean query language, pure: how queries parse and compile, that plain words compile exactly as
before Boolean search existed, and that FTS5 matches what the tree says (a Python oracle, fuzzed)."""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.query import And, Field, Not, Or, Phrase, Prefix, Query, Term, parse_query
from archive.query.compile import compile_excluded
from archive.query.nodes import Node, split
from archive.search.terms import ranking_terms
from archive.store.keyword.fts5 import FTS5, expression_to_fts5, to_fts5

BEFORE = json.loads((Path(__file__).parent / "fixtures" / "plain_queries_before_boolean.json").read_text())["queries"]


def keyword(q: str) -> str | None:
    """What the keyword side runs for q."""
    return to_fts5(ranking_terms(parse_query(q)))


# --- parsing and compiling ------------------------------------------------------------------

SHAPES = {
    "coffee AND brazil": '("coffee" AND "brazil")',
    "coffee OR cocoa": '("coffee" OR "cocoa")',
    "coffee NOT brazil": '"coffee" NOT ("brazil")',
    "coffee -brazil": '"coffee" NOT ("brazil")',
    "+coffee brazil": '("coffee" AND ("coffee" OR "brazil"))',
    "(coffee OR cocoa) AND ghana": '(("coffee" OR "cocoa") AND "ghana")',
    "a OR b AND c": '("a" OR ("b" AND "c"))',
    "iran nuclear AND talks": '("nuclear" AND "talks" AND ("nuclear" OR "talks" OR "iran"))',
    '"coffee prices" OR "cocoa prices"': '("coffee prices" OR "cocoa prices")',
    '"coffee prices" cocoa': '("coffee prices" AND ("coffee prices" OR "cocoa"))',
    "title:iran": 'title : "iran"',
    'title:"nuclear talks"': 'title : "nuclear talks"',
    "title:(iran OR iraq) -title:x": 'title : ("iran" OR "iraq") NOT (title : "x")',
    "export*": '"export"*',
    "export* coffee": '("coffee" OR "export"*)',
    "ex*": '"ex"',
    "NOT(coffee OR cocoa) ghana": '"ghana" NOT ("coffee" OR "cocoa")',
    "coffee AND -(brazil OR ghana) oil": '("coffee" AND ("coffee" OR "oil")) NOT (("brazil" OR "ghana"))',
    "coffee AND NOT brazil AND cocoa": '("coffee" AND "cocoa") NOT ("brazil")',
    "coffee OR NOT brazil": '"coffee" NOT ("brazil")',
    "(coffee cocoa) brazil": '("coffee" OR "cocoa" OR "brazil")',
    "coffee AND brazil the": '("coffee" AND "brazil")',  # an optional stopword beside required words: left out
    "+1 nucleosomes": '("1" OR "nucleosomes")',  # + before a digit is a sign
    # repaired or ignored, never an error
    "coffee AND": '"coffee"',
    "AND coffee": '"coffee"',
    "(coffee": '"coffee"',
    "coffee)": '"coffee"',
    "coffee AND OR brazil": '("coffee" OR "brazil")',  # the last operator wins
    "coffee AND source:reuters brazil": '("coffee" OR "brazil")',  # a filter is not a clause
    "((((((((((coffee))))))))))": '"coffee"',
    "( ) coffee ()": '"coffee"',
    "NOT NOT coffee": '"coffee"',
    "title:": None,
    "NOT": None,
    "*": None,
    "+": None,
    "-coffee -brazil": None,  # exclusions only narrow a positive match
}


@pytest.mark.parametrize("q", list(SHAPES))
def test_keyword_expression(q: str) -> None:
    assert keyword(q) == SHAPES[q]


def test_tree_and_views() -> None:
    q = parse_query('brazil (coffee OR cocoa) AND ghana -"oil prices" -weather title:harvest')
    assert q.terms == ("brazil",)
    assert q.boolean == And(
        (
            Or((Term("coffee"), Term("cocoa"))),
            Term("ghana"),
            Field("title", Term("harvest")),
            Not(Phrase(("oil", "prices"))),
            Not(Term("weather")),
        )
    )
    assert q.excluded == ("weather",) and q.excluded_phrases == (("oil", "prices"),)
    assert q.text_for_embedding == "brazil (coffee cocoa) ghana harvest"
    assert parse_query("export* ex*").prefixes == ("export",) and parse_query("export* ex*").terms == ("ex*",)
    assert parse_query("coffee OR cocoa").boolean is None  # plain words: no constraint


def test_flat_query_built_directly_gets_its_tree() -> None:
    q = Query(terms=("a",), phrases=(("b", "c"),), excluded=("d",))
    assert q.boolean == And((Phrase(("b", "c")), Not(Term("d"))))
    assert q.text_for_embedding == "a b c"
    assert replace(q, terms=("z",)).boolean == q.boolean
    assert Query(excluded=("d",)).is_empty and not Query(boolean=Prefix("export")).is_empty


def test_lower_case_operators_are_words_and_filters_still_work() -> None:
    q = parse_query("coffee and brazil or not cocoa source:reuters")
    assert q.terms == ("coffee", "and", "brazil", "or", "not", "cocoa") and q.boolean is None
    assert q.source == "reuters"


# --- plain words compile exactly as before ----------------------------------------------------


@pytest.mark.parametrize("q", list(BEFORE))
def test_plain_words_compile_and_embed_as_before(q: str) -> None:
    """What the keyword index runs and what the encoder embeds are byte-identical to before (main d040b36),
    questions with parentheses, `+1` and `CD4 + T` included; plain words never restrict the semantic side."""
    before = BEFORE[q]
    parsed = parse_query(q)
    assert to_fts5(ranking_terms(parsed)) == before["ranked"]
    assert parsed.text_for_embedding == before["embed"]
    assert parsed.boolean is None
    raw = to_fts5(parsed)
    if raw != before["fts5"]:
        # Only difference: a word typed once with and once without parentheses (`coli ... (E. coli)`) is one
        # optional word now; ranking_terms always merged the two, so the index never saw it.
        assert raw is not None and before["fts5"] is not None
        assert set(raw[1:-1].split(" OR ")) == set(before["fts5"][1:-1].split(" OR "))


# --- FTS5 agrees with the tree (Python oracle) -------------------------------------------------

VOCAB = ["coffee", "cocoa", "brazil", "ghana", "oil", "export"]
PREFIXES = ["cof*", "coc*", "bra*", "gha*", "exp*"]
rng = random.Random(3)
DOCS = [
    ([rng.choice(VOCAB) for _ in range(rng.randint(1, 3))], [rng.choice(VOCAB) for _ in range(rng.randint(0, 6))])
    for _ in range(40)
]


@pytest.fixture(scope="module")
def fts() -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(title, body, tokenize='porter unicode61 remove_diacritics 2')")
    db.executemany(
        "INSERT INTO t(rowid, title, body) VALUES (?, ?, ?)",
        [(i, " ".join(t), " ".join(b)) for i, (t, b) in enumerate(DOCS)],
    )
    yield db
    db.close()


def _has(seq: list[str], words: list[str]) -> bool:
    return any(seq[i : i + len(words)] == words for i in range(len(seq) - len(words) + 1))


def holds(node: Node, title: list[str], body: list[str]) -> bool:
    if isinstance(node, Term):
        return _has(title, [node.word.lower()]) or _has(body, [node.word.lower()])
    if isinstance(node, Phrase):
        words = [w.lower() for w in node.words]
        return _has(title, words) or _has(body, words)
    if isinstance(node, Prefix):
        return any(w.startswith(node.stem.lower()) for w in title + body)
    if isinstance(node, Field):
        return holds(node.node, title, [])
    if isinstance(node, And):
        return all(holds(n, title, body) for n in node.nodes)
    if isinstance(node, Or):
        return any(holds(n, title, body) for n in node.nodes)
    return not holds(node.node, title, body)


def oracle(q: Query) -> tuple[set[int], set[int]]:
    """(keyword matches, articles satisfying the restriction) by the language's definition."""
    positive, excluded = split(q.boolean)
    optional = [Term(t) for t in q.terms] + [Prefix(p) for p in q.prefixes]
    matches, allowed = set(), set()
    for i, (title, body) in enumerate(DOCS):
        if any(holds(n, title, body) for n in excluded) or not all(holds(n, title, body) for n in positive):
            continue
        allowed.add(i)
        if positive or any(holds(n, title, body) for n in optional):
            matches.add(i)
    return matches, allowed


def run(db: sqlite3.Connection, expression: str | None) -> set[int]:
    return (
        set()
        if expression is None
        else {r[0] for r in db.execute("SELECT rowid FROM t WHERE t MATCH ?", (expression,))}
    )


ITEMS = st.one_of(
    st.sampled_from(VOCAB + PREFIXES),
    st.sampled_from(["AND", "OR", "NOT", "(", ")", "-(", "+(", "title:(", "()"]),
    st.builds(
        lambda m, w: m + w, st.sampled_from(["-", "+", "title:", "-title:", "NOT "]), st.sampled_from(VOCAB + PREFIXES)
    ),
    st.builds(lambda a, b: f'"{a} {b}"', st.sampled_from(VOCAB), st.sampled_from(VOCAB)),
)


@settings(max_examples=400, deadline=None)
@given(items=st.lists(ITEMS, max_size=12))
def test_property_fts5_matches_what_the_tree_says(fts: sqlite3.Connection, items: list[str]) -> None:
    q = parse_query(" ".join(items))
    matches, allowed = oracle(q)
    assert run(fts, to_fts5(q)) == matches
    if q.boolean is not None and q.required:
        assert run(fts, expression_to_fts5(q.boolean)) == allowed
    elif q.boolean is not None:  # only exclusions: the restriction keeps what matches none of them
        assert set(range(len(DOCS))) - run(fts, compile_excluded(q.boolean, FTS5)) == allowed


@pytest.mark.parametrize(
    "q",
    [
        "(" * 10_000 + "a",
        "NOT " * 2_500 + "a",
        "-(" * 5_000 + "a",
        "title:(" * 1_400 + "a",
        "NOT(" * 2_500 + "a",
        "a AND " * 1_600,
        "(a OR (b AND " * 700,
        ('(x "a b" OR title:c* AND NOT d) ') * 300,
    ],
)
def test_pathological_nesting_is_repaired_not_recursed(fts: sqlite3.Connection, q: str) -> None:
    parsed = parse_query(q)  # no RecursionError: nesting beyond MAX_DEPTH is ignored, operator runs are loops
    for expression in (to_fts5(ranking_terms(parsed)), expression_to_fts5(parsed.boolean)):
        run(fts, expression)
