"""Geometry of the matches-per-year timeline, drawn server-side as an inline SVG (no Flask)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

WIDTH = 640
HEIGHT = 150
TOP = 28  # room for the count above the tallest bar (large labels on phones)
BOTTOM = 24  # room for the year labels
SIDE = 8
MAX_BARS = 60  # a longer span keeps only the most recent years


@dataclass(frozen=True)
class Bar:
    """One year: its count and the rectangle (in viewBox units) that draws it."""

    year: int
    count: int
    x: float
    y: float
    width: float
    height: float
    label: bool  # whether the year is written under the bar (every Nth when there are many)

    @property
    def center(self) -> float:
        """Horizontal middle of the bar."""
        return self.x + self.width / 2


@dataclass(frozen=True)
class Timeline:
    """Bars for every year between the first and last match (empty years included, at zero)."""

    bars: list[Bar]
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - BOTTOM
    total: int = 0

    @property
    def summary(self) -> str:
        """A text equivalent for screen readers."""
        return ", ".join(f"{b.year}: {b.count}" for b in self.bars if b.count)


def year_timeline(year_facet: Sequence[dict[str, Any]]) -> Timeline | None:
    """Build the timeline from the search response's `year` facet; None when no match has a date."""
    counts: dict[int, int] = {}
    for item in year_facet:
        try:
            counts[int(item["value"])] = int(item["count"])
        except (KeyError, TypeError, ValueError):
            continue
    if not counts:
        return None
    last = max(counts)
    first = max(min(counts), last - MAX_BARS + 1)
    years = list(range(first, last + 1))
    peak = max(counts.get(y, 0) for y in years) or 1
    slot = (WIDTH - 2 * SIDE) / len(years)
    bar_width = max(2.0, min(slot * 0.7, 64.0))
    every = max(1, round(len(years) / 12))
    plot = HEIGHT - TOP - BOTTOM
    bars = []
    for i, year in enumerate(years):
        count = counts.get(year, 0)
        height = plot * count / peak if count else 0.0
        x = SIDE + i * slot + (slot - bar_width) / 2
        bars.append(
            Bar(
                year,
                count,
                round(x, 2),
                round(TOP + plot - height, 2),
                round(bar_width, 2),
                round(height, 2),
                label=(i % every == 0 or i == len(years) - 1),
            )
        )
    return Timeline(bars, total=sum(b.count for b in bars))
