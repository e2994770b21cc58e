"""Reflowing hard-wrapped bodies: paragraphs are exact slices of the body, only the display joins lines (pure)."""

from __future__ import annotations

import itertools
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.reading import split_passages
from archive.reflow import body_style, display_text, paragraph_spans, pieces

REUTERS = (
    "Showers continued throughout the week in\n"
    "the Bahia cocoa zone, alleviating the drought since early\n"
    "January and improving prospects for the coming temporao.\n"
    "    The dry period means the temporao will be late this year.\n"
    "    Arrivals for the week ended February 22 were 155,221 bags\n"
    "of 60 kilos making a cumulative total for the season of 5.93\n"
    "mln against 5.81 at the same stage last year.\n"
    "    Shr 34 cts vs 1.19 dlrs\n"
    "    Net 807,000 vs 2,858,000\n"
    "\n"
    " Reuter"
)


def shown(body: str) -> list[str]:
    return [display_text(body[a:b]) for a, b in paragraph_spans(body)]


def assert_exact_slices(body: str, spans: list[tuple[int, int]], *, exact: bool = True) -> None:
    """Every displayed paragraph is a trimmed slice of the body with its line breaks (and the indentation
    after them) made spaces; the slices are in order and do not overlap."""
    for a, b in spans:
        raw = body[a:b]
        assert raw == raw.strip() and raw
        assert "\n" not in display_text(raw)
        if exact:  # bodies without runs of spaces inside a line: nothing but the line breaks changes
            assert display_text(raw) == re.sub(r"\s*\n\s*", " ", raw)
    assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(spans))


def test_reuters_lines_join_into_paragraphs_at_indents_and_blank_lines():
    assert body_style(REUTERS) == "marked"
    assert shown(REUTERS) == [
        "Showers continued throughout the week in the Bahia cocoa zone, alleviating the drought since early "
        "January and improving prospects for the coming temporao.",
        "The dry period means the temporao will be late this year.",
        "Arrivals for the week ended February 22 were 155,221 bags of 60 kilos making a cumulative total for "
        "the season of 5.93 mln against 5.81 at the same stage last year.",
        "Shr 34 cts vs 1.19 dlrs",  # table rows are indented: one row per line
        "Net 807,000 vs 2,858,000",
        "Reuter",
    ]
    assert_exact_slices(REUTERS, paragraph_spans(REUTERS))


def test_a_short_first_line_ending_in_an_abbreviation_does_not_split_a_reuters_sentence():
    body = "Ford Motor Co has increased its U.S.\nproduction schedule for the second quarter by 52,000 cars and\ntrucks.\n    It said..."
    assert shown(body)[0] == (
        "Ford Motor Co has increased its U.S. production schedule for the second quarter by 52,000 cars and trucks."
    )


def test_long_lines_stay_one_paragraph_each():
    body = ("A long paragraph of web text that runs on well past any wrapping width. " * 3 + "\n") * 3
    assert body_style(body.strip()) == "lines"
    assert len(paragraph_spans(body.strip())) == 3


def test_plain_wrapped_text_ends_a_paragraph_where_the_next_word_would_have_fit():
    body = (
        "Mail wrapped at a fixed width keeps going until the line is full\n"
        "and then wraps onto the next line as expected.\n"
        "A new paragraph starts here without any indentation at all, and\n"
        "it carries on.\n"
        "- a list item\n"
        "- another"
    )
    assert body_style(body) == "plain"
    assert shown(body) == [
        "Mail wrapped at a fixed width keeps going until the line is full and then wraps onto the next line as expected.",
        "A new paragraph starts here without any indentation at all, and it carries on.",
        "- a list item",
        "- another",
    ]


def test_passages_cut_paragraphs_at_chunk_starts_and_say_when_one_runs_on():
    second = REUTERS.index("The dry period")
    third = REUTERS.index("mln against")  # inside the third paragraph: it runs on into passage 2
    passages = split_passages(REUTERS, [(0, 0, second), (1, second, third), (2, third, len(REUTERS))])
    assert [p.runs_on for p in passages] == [False, True, False]
    for p in passages:
        assert_exact_slices(REUTERS, p.paragraphs)
        assert all(p.start <= a and b <= p.end for a, b in p.paragraphs)
    assert display_text(REUTERS[slice(*passages[1].paragraphs[-1])]).endswith("cumulative total for the season of 5.93")
    assert display_text(REUTERS[slice(*passages[2].paragraphs[0])]) == "mln against 5.81 at the same stage last year."


def test_pieces_trim_and_skip_whitespace_only_parts():
    body = "one two\n\nthree"
    spans = paragraph_spans(body)
    assert pieces(spans, body, 0, 9) == ([(0, 7)], False)
    assert pieces(spans, body, 2, len(body)) == ([(2, 7), (9, 14)], False)
    assert pieces(spans, body, 0, 5)[1] is True


@given(st.lists(st.sampled_from(["word", "Word.", "U.S.", "  ", "    Indented", "", "-", "x" * 120]), max_size=40))
def test_any_body_paragraphs_are_ordered_trimmed_slices(parts):
    body = "\n".join(" ".join(parts[i : i + 3]) for i in range(0, len(parts), 3)).strip()
    spans = paragraph_spans(body)
    assert_exact_slices(body, spans, exact=False)
    # nothing visible is lost: the paragraphs hold every word of the body, in order
    assert " ".join(display_text(body[a:b]) for a, b in spans).split() == body.split()


@pytest.mark.slow
def test_every_reuters_body_reflows_into_exact_slices():
    from conftest import shared_data

    from archive.readers.clean import clean_text

    with shared_data("reuters21578", "corpus.jsonl").open() as lines:
        for n, line in enumerate(lines):
            if n % 20:
                continue  # every 20th story: ~1,000 bodies in well under a second
            body = clean_text(json.loads(line).get("text") or "")
            spans = paragraph_spans(body)
            assert " ".join(display_text(body[a:b]) for a, b in spans).split() == body.split()
            assert all(body[a:b] == body[a:b].strip() for a, b in spans)
