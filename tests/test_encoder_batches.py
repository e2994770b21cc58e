"""Model batches cut by length (`length_batches`): every text once, longest first, no batch above the size, and less
padded input plus calls than fixed batches of the length order."""

from __future__ import annotations

import random

import numpy as np
import pytest

from archive.encoders.base import CALL_CHARS, length_batches, length_order


def padded_cost(texts: list[str], batches: list[np.ndarray]) -> int:
    """What `length_batches` minimises: each batch is padded to its longest text, and each call costs CALL_CHARS."""
    return sum(CALL_CHARS + len(b) * max(len(texts[i]) for i in b) for b in batches)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("size", [1, 8, 64])
def test_batches_cover_every_text_once_longest_first_and_pad_less_than_fixed_batches(seed: int, size: int) -> None:
    rng = random.Random(seed)
    texts = ["w" * rng.choice([rng.randint(20, 200), rng.randint(600, 1300)]) for _ in range(rng.randint(50, 400))]
    batches = length_batches(texts, size)
    rows = np.concatenate(batches)
    assert sorted(rows.tolist()) == list(range(len(texts)))
    assert rows.tolist() == length_order(texts).tolist()  # the length order, cut into pieces
    assert all(1 <= len(b) <= size for b in batches)
    order = length_order(texts)
    fixed = [order[a : a + size] for a in range(0, len(order), size)]
    assert padded_cost(texts, batches) <= padded_cost(texts, fixed)
    if size > 1:  # a pool whose lengths fall off steeply: the cuts follow them, and save padding
        assert padded_cost(texts, batches) < padded_cost(texts, fixed)


def test_equal_lengths_fill_whole_batches_and_small_inputs_are_one_batch() -> None:
    assert [len(b) for b in length_batches(["same"] * 10, 4)] in ([2, 4, 4], [4, 4, 2], [4, 2, 4])
    assert length_batches([], 4) == []
    assert [b.tolist() for b in length_batches(["only one"], 4)] == [[0]]
