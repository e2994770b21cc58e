"""Chunking is pure: sentence-aligned, within the token budget, with offsets into the body."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import blingfire
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.chunking import _sentence_offsets, chunk_text, sentence_spans


def words(texts: Sequence[str]) -> list[int]:
    """A token counter that counts whitespace-separated words (additive, like WordPiece)."""
    return [len(t.split()) for t in texts]


def test_sentences_respect_abbreviations_and_paragraphs():
    text = "U.S. officials met Mr. Smith at 3 p.m. on Jan. 5. Then he left.\n\nA new paragraph without a stop\nstill ends here"
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == [
        "U.S. officials met Mr. Smith at 3 p.m. on Jan. 5.",
        "Then he left.",
        "A new paragraph without a stop\nstill ends here",
    ]


SENTENCE_TEXTS = [
    "U.S. officials met Mr. Smith at 3 p.m. on Jan. 5. Then he left.",
    "Café owners in Zürich said “no” to the 3.5% levy. Die Straße ist naß. Ça va?",
    "東京の株価は下落した。 円は上昇した. Then English again! Ελληνικά κείμενα. Русский текст здесь.",
    "Emoji 😀 in a sentence. Another one 🚀🌍 ends here. é́ combining marks. Last",
    "One sentence only",
    "a",
]


def test_sentence_offsets_are_the_blingfire_wrappers():
    """`_sentence_offsets` maps blingfire's byte offsets itself (the wrapper's per-byte loop was most of the
    ingest's sentence splitting): the same spans as `blingfire.text_to_sentences_and_offsets`, in any script."""
    for text in SENTENCE_TEXTS:
        assert _sentence_offsets(text) == blingfire.text_to_sentences_and_offsets(text)[1], text


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(
            alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs", "Mn")), min_size=1, max_size=40
        ),
        min_size=1,
        max_size=8,
    )
)
def test_sentence_offsets_match_the_wrapper_on_any_text(parts):
    text = ". ".join(parts)
    if text.strip():
        assert _sentence_offsets(text) == blingfire.text_to_sentences_and_offsets(text)[1]


def test_chunks_pack_sentences_with_overlap_and_exact_offsets():
    sentences = [f"Sentence number {i} has exactly seven words." for i in range(20)]
    text = " ".join(sentences)
    chunks = chunk_text(text, words, target_tokens=21, max_tokens=30, overlap_sentences=1)
    assert len(chunks) > 1
    for c in chunks:
        assert c.text == text[c.char_start : c.char_end]
        assert words([c.text])[0] <= 30
    # consecutive chunks share one sentence
    for prev, nxt in itertools.pairwise(chunks):
        assert nxt.char_start < prev.char_end
        assert text[nxt.char_start : prev.char_end].strip() in sentences
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert chunks[0].char_start == 0 and chunks[-1].char_end == len(text)


def test_a_sentence_longer_than_the_budget_is_split_not_truncated():
    long_sentence = " ".join(f"w{i}" for i in range(95)) + "."
    chunks = chunk_text(long_sentence, words, target_tokens=40, max_tokens=40, overlap_sentences=0)
    assert all(words([c.text])[0] <= 40 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == long_sentence.split()  # nothing lost


def test_a_huge_unbroken_token_is_cut_by_characters():
    blob = "x" * 500
    chunks = chunk_text(blob, lambda ts: [len(t) for t in ts], target_tokens=100, max_tokens=100, overlap_sentences=0)
    assert "".join(c.text for c in chunks) == blob
    assert all(len(c.text) <= 100 for c in chunks)


def test_empty_text_gives_no_chunks():
    assert chunk_text("   \n\n  ", words) == []


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), min_size=1, max_size=80),
        min_size=1,
        max_size=30,
    ),
    st.integers(min_value=3, max_value=60),
    st.integers(min_value=0, max_value=2),
)
def test_every_chunk_fits_and_all_words_are_covered(parts, budget, overlap):
    text = ". ".join(parts)
    chunks = chunk_text(text, words, target_tokens=budget, max_tokens=budget, overlap_sentences=overlap)
    covered = set()
    for c in chunks:
        assert c.text == text[c.char_start : c.char_end]
        assert words([c.text])[0] <= budget
        covered.update(range(c.char_start, c.char_end))
    for i, ch in enumerate(text):
        if not ch.isspace():
            assert i in covered, f"character {i} ({ch!r}) is in no chunk"
