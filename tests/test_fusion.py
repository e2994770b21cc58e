"""Unit and property tests for archive.fusion (reciprocal rank fusion and score mixing)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.fusion import ranks, rrf, score_mix


def test_ranks_are_one_based_and_first_occurrence_wins() -> None:
    assert ranks(["a", "b", "a", "c"]) == {"a": 1, "b": 2, "c": 4}
    assert ranks([]) == {}


def test_rrf_hand_computed_example() -> None:
    out = rrf(
        {"keyword": ["a", "b", "c"], "semantic": ["c", "a", "d"]}, k=60, weights={"keyword": 1.0, "semantic": 2.0}
    )
    expected = {"a": 1 / 61 + 2 / 62, "b": 1 / 62, "c": 1 / 63 + 2 / 61, "d": 2 / 63}
    assert [key for key, _ in out] == ["c", "a", "d", "b"]
    for key, score in out:
        assert score == pytest.approx(expected[key])


def test_rrf_default_weights_and_k() -> None:
    out = dict(rrf({"x": [1, 2], "y": [2]}))
    assert out[1] == pytest.approx(1 / 61)
    assert out[2] == pytest.approx(1 / 62 + 1 / 61)


def test_rrf_ties_break_by_best_rank_then_first_seen() -> None:
    # "a" is 1st on x and 2nd on y; "b" is 2nd on x and 1st on y: equal scores.
    out = rrf({"x": ["a", "b"], "y": ["b", "a"]})
    assert out[0][1] == out[1][1]
    assert [key for key, _ in out] == ["a", "b"]
    # Equal score, different best rank: w=1 at rank 1 (k=0) vs two sides at rank 2.
    out = rrf({"x": ["p", "q"], "y": ["z", "q"]}, k=0)
    assert dict(out)["p"] == dict(out)["q"] == 1.0
    assert [key for key, _ in out] == ["p", "z", "q"]


def test_rrf_empty_inputs() -> None:
    assert rrf({}) == []
    assert rrf({"keyword": [], "semantic": []}) == []


def test_rrf_one_side_empty_keeps_the_other_order() -> None:
    out = rrf({"keyword": [], "semantic": [3, 1, 2]})
    assert [key for key, _ in out] == [3, 1, 2]


def test_rrf_ids_on_one_side_only_are_kept() -> None:
    out = dict(rrf({"keyword": ["a"], "semantic": ["b"]}, weights={"keyword": 1, "semantic": 1}))
    assert set(out) == {"a", "b"}


def test_rrf_zero_weight_side_is_ignored() -> None:
    out = rrf({"keyword": ["a", "b"], "semantic": ["c", "b"]}, weights={"keyword": 1, "semantic": 0})
    assert [key for key, _ in out] == ["a", "b"]
    assert rrf({"keyword": ["a"]}, weights={"keyword": 0}) == []


def test_rrf_missing_weight_defaults_to_one() -> None:
    out = dict(rrf({"keyword": ["a"], "semantic": ["a"]}, weights={"keyword": 3}))
    assert out["a"] == pytest.approx(3 / 61 + 1 / 61)


def test_rrf_duplicates_count_once_at_first_rank() -> None:
    assert dict(rrf({"x": ["a", "a", "b"]}))["a"] == pytest.approx(1 / 61)


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_rrf_rejects_bad_weights_and_k(bad: float) -> None:
    with pytest.raises(ValueError):
        rrf({"x": ["a"]}, weights={"x": bad})
    with pytest.raises(ValueError):
        rrf({"x": ["a"]}, k=bad)


def test_score_mix_minmax_hand_computed() -> None:
    out = score_mix(
        {"keyword": {"a": 10.0, "b": 5.0, "c": 0.0}, "semantic": {"b": 0.9, "d": 0.5}},
        weights={"keyword": 1, "semantic": 3},
    )
    # keyword minmax: a 1, b .5, c 0; semantic minmax: b 1, d 0; missing -> 0.
    expected = {"a": 0.25, "b": 0.25 * 0.5 + 0.75, "c": 0.0, "d": 0.0}
    assert dict(out) == pytest.approx(expected)
    assert [key for key, _ in out] == ["b", "a", "d", "c"]  # c, d tie at 0: d has the better rank (2 vs 3)


def test_score_mix_zscore_missing_gets_side_minimum() -> None:
    out = dict(score_mix({"k": {"a": 1.0, "b": 3.0}, "s": {"c": 2.0, "a": 4.0}}, normalise="zscore"))
    # each side: values -1 and +1; missing -> that side's min (-1); equal weights 0.5 each.
    assert out == pytest.approx({"a": 0.5 * -1 + 0.5 * 1, "b": 0.5 * 1 + 0.5 * -1, "c": 0.5 * -1 + 0.5 * -1})


def test_score_mix_constant_side() -> None:
    assert dict(score_mix({"k": {"a": 2.0, "b": 2.0}})) == {"a": 1.0, "b": 1.0}
    assert dict(score_mix({"k": {"a": 2.0, "b": 2.0}}, normalise="zscore")) == {"a": 0.0, "b": 0.0}


def test_score_mix_zscore_single_hit_beats_missing() -> None:
    # One keyword hit (std 0) still lifts its article above an equal one only the other side found.
    out = dict(score_mix({"k": {"x": 7.0}, "s": {"x": 0.2, "y": 0.3, "z": 0.2}}, normalise="zscore"))
    assert out["x"] - out["z"] == pytest.approx(0.5 * (0.0 - -1.0))


def test_score_mix_empty_and_zero_weights() -> None:
    assert score_mix({}) == []
    assert score_mix({"k": {}, "s": {}}) == []
    assert score_mix({"k": {"a": 1.0}}, weights={"k": 0}) == []
    assert [key for key, _ in score_mix({"k": {"a": 1.0}, "s": {"b": 1.0}}, weights={"s": 0})] == ["a"]


def test_score_mix_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        score_mix({"k": {"a": math.nan}})
    with pytest.raises(ValueError):
        score_mix({"k": {"a": 1.0}}, normalise="rank")  # type: ignore[arg-type]


_RANKINGS = st.dictionaries(
    st.sampled_from(["keyword", "semantic", "title"]), st.lists(st.integers(0, 30), max_size=25)
)
_WEIGHTS = st.dictionaries(st.sampled_from(["keyword", "semantic", "title"]), st.floats(0, 5))


@settings(max_examples=300, deadline=None)
@given(rankings=_RANKINGS, weights=_WEIGHTS)
def test_property_rrf_sorted_complete_and_deterministic(
    rankings: dict[str, list[int]], weights: dict[str, float]
) -> None:
    out = rrf(rankings, weights=weights)
    scores = [s for _, s in out]
    assert scores == sorted(scores, reverse=True)
    live = {key for side, ids in rankings.items() if weights.get(side, 1.0) > 0 for key in ids}
    assert {key for key, _ in out} == live
    assert len(out) == len(live)
    assert out == rrf(rankings, weights=weights)


@settings(max_examples=300, deadline=None)
@given(ids=st.lists(st.integers(0, 50), unique=True, max_size=30))
def test_property_single_side_preserves_order(ids: list[int]) -> None:
    assert [key for key, _ in rrf({"only": ids})] == ids


@settings(max_examples=300, deadline=None)
@given(
    scores=st.dictionaries(
        st.sampled_from(["keyword", "semantic"]), st.dictionaries(st.integers(0, 20), st.floats(-1e6, 1e6), max_size=15)
    ),
    normalise=st.sampled_from(["minmax", "zscore"]),
)
def test_property_score_mix_bounds(scores: dict[str, dict[int, float]], normalise: str) -> None:
    out = score_mix(scores, normalise=normalise)  # type: ignore[arg-type]
    assert {key for key, _ in out} == {key for side in scores.values() for key in side}
    values = [s for _, s in out]
    assert values == sorted(values, reverse=True)
    if normalise == "minmax":
        assert all(-1e-9 <= v <= 1 + 1e-9 for v in values)
