"""Unit and property tests for archive.snippets (passages and safe highlighting)."""

from __future__ import annotations

import html

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.query import parse_query
from archive.snippets import best_passage, highlight, highlight_spans, highlight_terms, stem

ARTICLE = (
    "Vienna, Friday. The board met for the third time this year. Diplomats discussed the budget "
    "and staffing at length, and nothing else of note happened in the morning session. "
    "In the afternoon the agency said Iran had started disconnecting surveillance cameras at "
    "several sites. Officials called the disconnection a serious blow. The cameras had been "
    "installed under a 2015 deal. Later, delegates went to dinner and talked about football."
)


def unmark(text: str) -> str:
    return text.replace("<mark>", "").replace("</mark>", "")


# --- terms and stems -------------------------------------------------------------------


def test_highlight_terms_from_query() -> None:
    q = parse_query('Iran "Camera footage" -weather U.S. source:reuters')
    assert highlight_terms(q) == ["iran", "camera", "footage"]


@pytest.mark.parametrize(
    "word, expected",
    [("disconnection", "disconnect"), ("cameras", "camera"), ("Running", "runn"), ("art", "art"), ("sites", "site")],
)
def test_stem(word: str, expected: str) -> None:
    assert stem(word) == expected


# --- spans and highlight ---------------------------------------------------------------


def test_stem_prefix_matching() -> None:
    text = "Disconnect, disconnected; DISCONNECTING disconnection. connect"
    spans = highlight_spans(text, ["disconnection"])
    assert [text[s:e] for s, e in spans] == ["Disconnect", "disconnected", "DISCONNECTING", "disconnection"]


def test_short_terms_match_whole_words_only() -> None:
    text = "Art and arts in the article; ART."
    assert [text[s:e] for s, e in highlight_spans(text, ["art"])] == ["Art", "arts", "ART"]


def test_no_match_inside_words() -> None:
    text = "recameras cameraman"
    assert [text[s:e] for s, e in highlight_spans(text, ["camera"])] == ["cameraman"]


def test_highlight_marks_whole_words_case_insensitively() -> None:
    assert highlight("Iran cameras IRAN", ["iran", "camera"]) == (
        "<mark>Iran</mark> <mark>cameras</mark> <mark>IRAN</mark>"
    )


def test_highlight_escapes_script_and_attributes() -> None:
    text = "<script>alert(1)</script> <img src=x onerror=alert(1)> \"quoted\" 'single'"
    out = highlight(text, ["alert", "img", "script", "onerror"])
    assert "<script" not in out and "<img" not in out
    assert unmark(out) == html.escape(text, quote=True)
    assert "&lt;<mark>script</mark>&gt;<mark>alert</mark>(1)" in out
    assert "&quot;quoted&quot;" in out and "&#x27;single&#x27;" in out


def test_entity_like_terms_never_break_escapes() -> None:
    text = 'AT&T < lt & amp > gt "quot"'
    out = highlight(text, ["amp", "lt", "gt", "quot", "x27"])
    assert unmark(out) == html.escape(text)
    assert "&amp;" in out and "&lt;" in out and "&gt;" in out
    assert "<mark>lt</mark>" in out and "<mark>amp</mark>" in out


def test_highlight_without_terms_is_plain_escape() -> None:
    assert highlight("a < b", []) == "a &lt; b"
    assert highlight("a < b", ["", "<", "🙂"]) == "a &lt; b"


# --- best passage ----------------------------------------------------------------------


def test_best_passage_finds_the_densest_window() -> None:
    start, end = best_passage(ARTICLE, ["iran", "camera", "disconnection"], max_chars=160)
    passage = ARTICLE[start:end]
    assert end - start <= 160
    assert "Iran" in passage and "disconnect" in passage and "cameras" in passage
    assert start == 0 or ARTICLE[start - 1] == " "  # starts at a word boundary
    assert end == len(ARTICLE) or not ARTICLE[end].isalnum()


def test_best_passage_prefers_a_sentence_start_when_it_fits() -> None:
    start, end = best_passage(ARTICLE, ["iran", "camera", "disconnection"], max_chars=200)
    assert ARTICLE[start:end].startswith("In the afternoon the agency said Iran")
    assert end - start <= 200


def test_best_passage_falls_back_to_the_start() -> None:
    start, end = best_passage(ARTICLE, ["zebra"], max_chars=100)
    assert start == 0 and 50 <= end <= 100
    assert not ARTICLE[end - 1].isspace() and not ARTICLE[end].isalnum()


def test_best_passage_short_text_is_whole() -> None:
    assert best_passage("short text", ["zebra"], max_chars=300) == (0, 10)


def test_best_passage_near_the_end_uses_the_budget() -> None:
    text = "word " * 100 + "final iran."
    start, end = best_passage(text, ["iran"], max_chars=50)
    assert end == len(text) and end - start <= 50 and end - start > 30


def test_best_passage_rejects_bad_budget() -> None:
    with pytest.raises(ValueError):
        best_passage("abc", [], max_chars=0)


# --- properties ------------------------------------------------------------------------

_TEXT = st.one_of(
    st.text(),
    st.lists(
        st.sampled_from(
            ["<", ">", "&", '"', "'", "amp", "lt", "&amp;", "<mark>", "Iran", "camera", " ", "\n", ".", "é", "İ", "ß"]
        ),
        max_size=40,
    ).map("".join),
)
_TERMS = st.lists(st.one_of(st.text(max_size=10), st.sampled_from(["amp", "lt", "mark", "iran", "ß", "i"])), max_size=5)


@settings(max_examples=300, deadline=None)
@given(text=_TEXT, terms=_TERMS)
def test_property_highlight_is_escaped_text_plus_marks(text: str, terms: list[str]) -> None:
    out = highlight(text, terms)
    assert unmark(out) == html.escape(text, quote=True)
    stripped = out.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in stripped
    assert out.count("<mark>") == out.count("</mark>") == len(highlight_spans(text, terms))


@settings(max_examples=300, deadline=None)
@given(text=_TEXT, terms=_TERMS)
def test_property_spans_are_ordered_words(text: str, terms: list[str]) -> None:
    spans = highlight_spans(text, terms)
    previous = 0
    for start, end in spans:
        assert previous <= start < end <= len(text)
        assert text[start:end].isalnum() or all(ch.isalnum() for ch in text[start:end])
        previous = end


@settings(max_examples=300, deadline=None)
@given(text=_TEXT, terms=_TERMS, max_chars=st.integers(1, 120))
def test_property_best_passage_is_a_valid_window(text: str, terms: list[str], max_chars: int) -> None:
    start, end = best_passage(text, terms, max_chars=max_chars)
    assert 0 <= start <= end <= len(text)
    assert end - start <= max_chars


# The fast path (a regex of candidate words) must find exactly what scanning every word finds.
_WORDS = st.sampled_from(
    [
        "camera",
        "Cameras",
        "disconnect",
        "disconnection",
        "art",
        "arts",
        "article",
        "IAEA",
        "iran",
        "Iran's",
        "the",
        "U.S.",
        "x",
        "café",
        "KELVIN",
        "İstanbul",
        "_",
        "-",
        " ",
        "\n",
        "é",
        "1987",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(st.one_of(_WORDS, st.text(max_size=5)), max_size=40).map(lambda xs: "".join(xs)),
    terms=st.lists(st.one_of(_WORDS, st.text(min_size=1, max_size=6)), min_size=1, max_size=5),
)
def test_highlight_fast_path_finds_what_the_word_scan_finds(text: str, terms: list[str]) -> None:
    from archive.snippets import _WORD, _Matcher

    matcher = _Matcher(terms)
    slow = [(m.start(), m.end(), hit) for m in _WORD.finditer(text) if (hit := matcher.match(m.group())) is not None]
    assert matcher.spans(text) == slow
