"""Hypothesis strategies shared by the property tests: what a careless or hostile user types."""

from __future__ import annotations

from hypothesis import strategies as st

# Query-language syntax, FTS5 and SQL syntax, control and combining characters, field names and real words.
NASTY_TOKENS = [
    *['"', "-", '-"', ":", "*", "^", "(", ")", "NEAR(", "NEAR/3", "NOT", "OR", "AND", "+", "{a b}", "\\", "''", '""'],
    *["'; DROP TABLE articles; --", "rowid", "%", "_", "<script>"],
    *["source:", "title:", "body:", "after:", "before:2022-01-01", "after:2030-13-45", 'author:"', "-source:x"],
    *["\x00", "\n", " ", "🙂", "\u0301", "\u093f", "é", "İ"],
    *["Iran", "camera", "disconnection"],
]
NASTY = st.sampled_from(NASTY_TOKENS)
QUERIES = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(NASTY, st.text(max_size=8)), max_size=30).map(" ".join),
    st.lists(st.one_of(NASTY, st.text(max_size=6)), max_size=30).map("".join),
)
