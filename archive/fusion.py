"""Rank fusion over ranked id lists (reciprocal rank fusion, normalised score mix); pure.

Conventions: every input is "higher is better" for scores and 1-based for ranks. A side
whose weight is 0 is ignored entirely: ids only it returned do not appear. Ties are
broken deterministically: by best (lowest) rank on any side, then by first-seen order
(sides in mapping order, each list in order).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Literal, TypeVar

K = TypeVar("K", bound=Hashable)

Normalise = Literal["minmax", "zscore"]


def ranks(ids: Sequence[K]) -> dict[K, int]:
    """Map each id to its 1-based rank; the first occurrence of a duplicate wins."""
    out: dict[K, int] = {}
    for position, key in enumerate(ids, start=1):
        out.setdefault(key, position)
    return out


def _weights(sides: Sequence[str], weights: Mapping[str, float] | None) -> dict[str, float]:
    """Resolve per-side weights (default 1.0), rejecting negative or non-finite values."""
    resolved: dict[str, float] = {}
    for side in sides:
        w = 1.0 if weights is None else float(weights.get(side, 1.0))
        if not math.isfinite(w) or w < 0:
            raise ValueError(f"weight for {side!r} must be a finite number >= 0, got {w!r}")
        resolved[side] = w
    return resolved


def rrf(
    rankings: Mapping[str, Sequence[K]], k: float = 60, weights: Mapping[str, float] | None = None
) -> list[tuple[K, float]]:
    """Weighted reciprocal rank fusion: score(id) = sum over sides of w / (k + rank)."""
    if not math.isfinite(k) or k < 0:
        raise ValueError(f"k must be a finite number >= 0, got {k!r}")
    w = _weights(list(rankings), weights)
    scores: dict[K, float] = {}
    best: dict[K, int] = {}
    for side, ids in rankings.items():
        if w[side] == 0:
            continue
        for key, rank in ranks(ids).items():
            scores[key] = scores.get(key, 0.0) + w[side] / (k + rank)
            best[key] = min(best.get(key, rank), rank)
    order = {key: i for i, key in enumerate(scores)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], best[kv[0]], order[kv[0]]))


def normalised(side_scores: Mapping[K, float], how: Normalise) -> tuple[dict[K, float], float]:
    """Normalise one side's scores; also return the value a missing id gets (the side's min)."""
    values = list(side_scores.values())
    if any(not math.isfinite(v) for v in values):
        raise ValueError("scores must be finite numbers")
    if not values:
        return {}, 0.0
    if how == "minmax":
        lo, hi = min(values), max(values)
        if hi == lo:  # one score, or all equal: present beats missing
            return dict.fromkeys(side_scores, 1.0), 0.0
        return {key: (v - lo) / (hi - lo) for key, v in side_scores.items()}, 0.0
    if how == "zscore":
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        if std == 0:  # one score, or all equal: present still beats missing, by one unit as in minmax
            return dict.fromkeys(side_scores, 0.0), -1.0
        norm = {key: (v - mean) / std for key, v in side_scores.items()}
        return norm, min(norm.values())
    raise ValueError(f"normalise must be 'minmax' or 'zscore', got {how!r}")


def score_mix(
    scores: Mapping[str, Mapping[K, float]], weights: Mapping[str, float] | None = None, normalise: Normalise = "minmax"
) -> list[tuple[K, float]]:
    """Convex combination of per-side normalised scores; a missing id gets the side's minimum."""
    w = _weights(list(scores), weights)
    active = [side for side in scores if w[side] > 0]
    total = sum(w[side] for side in active)
    if not active:
        return []
    mixed: dict[K, float] = {key: 0.0 for side in active for key in scores[side]}  # first-seen order
    best: dict[K, int] = {}
    per_side: dict[str, tuple[dict[K, float], float]] = {}
    for side in active:
        per_side[side] = normalised(scores[side], normalise)
        ordered = sorted(scores[side].items(), key=lambda kv: -kv[1])  # stable: keeps input order on ties
        for rank, (key, _) in enumerate(ordered, start=1):
            best[key] = min(best.get(key, rank), rank)
    for key in mixed:
        mixed[key] = sum(w[side] / total * per_side[side][0].get(key, per_side[side][1]) for side in active)
    order = {key: i for i, key in enumerate(mixed)}
    return sorted(mixed.items(), key=lambda kv: (-kv[1], best[kv[0]], order[kv[0]]))
