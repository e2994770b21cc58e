"""Geometry of the matches-over-time timeline, drawn server-side as inline SVG (no script, no Flask).

It draws the search response's date histogram (`facets.date`, bucketed by day, week,
month or year from the matched range: archive/search/histogram.py), so the axis spans
only the matched range. Each non-empty bar links to the search narrowed to its bucket
(`after` = its start, `before` = its end).

Two drawings of the same bars are made, and the stylesheet shows one: `wide` (640 units,
up to 10 labels) above 560 px, `narrow` (340 units, at most 5 labels, counts above the
bars only when there are few) on phones. A single SVG scaled down to a 390 px screen would
shrink its 12-unit labels to 6 px and run them together; a drawing made for the width
keeps text at about its nominal size. Labels are short ("Mar", "2", "1987") with the
month or year written under the first label and wherever it changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

MAX_BARS = 64  # more buckets (only years can be that many) keep the most recent ones
TOP = 24  # room for the count above the tallest bar
BOTTOM = 36  # room for two lines of labels
SIDE = 6
LABEL_GAP = 14  # between the two label lines


@dataclass(frozen=True)
class Layout:
    """One drawing's size and how much text it can hold."""

    variant: str
    width: int
    height: int
    max_labels: int
    max_counts: int  # counts are written above the bars only up to this many bars


WIDE = Layout("wide", 640, 150, max_labels=10, max_counts=24)
NARROW = Layout("narrow", 340, 170, max_labels=5, max_counts=8)


@dataclass(frozen=True)
class Bar:
    """One bucket: its period, count, the rectangle (viewBox units) that draws it and its labels."""

    start: str  # first day (the `after` of its link)
    end: str  # day after the last (the `before` of its link)
    count: int
    x: float
    y: float
    width: float
    height: float
    tip: str  # the period in words: "March 1987", "week of 2 March 1987"
    label: str = ""  # written under the bar ("" for none)
    context: str = ""  # second label line: the month or year, where it changes
    show_count: bool = False

    @property
    def center(self) -> float:
        """Horizontal middle of the bar."""
        return round(self.x + self.width / 2, 2)


@dataclass(frozen=True)
class Timeline:
    """The bars of one drawing."""

    bars: list[Bar]
    bucket: str
    variant: str
    width: int
    height: int
    baseline: float
    total: int

    @property
    def summary(self) -> str:
        """A text equivalent for screen readers."""
        return ", ".join(f"{b.tip}: {b.count}" for b in self.bars if b.count)


def _tip(start: date, bucket: str) -> str:
    if bucket == "day":
        return f"{start.day} {start:%B %Y}"
    if bucket == "week":
        return f"week of {start.day} {start:%B %Y}"
    if bucket == "month":
        return f"{start:%B %Y}"
    return f"{start.year}"


def _labels(start: date, bucket: str, previous: date | None) -> tuple[str, str]:
    """(label, context) of a labelled bar; context only where the month (or year) changes."""
    if bucket == "year":
        return str(start.year), ""
    if bucket == "month":
        new_year = previous is None or previous.year != start.year
        return f"{start:%b}", (str(start.year) if new_year else "")
    new_month = previous is None or (previous.year, previous.month) != (start.year, start.month)
    if previous is None or previous.year != start.year:
        return str(start.day), f"{start:%b} {start.year}"
    return str(start.day), (f"{start:%b}" if new_month else "")


def build_timeline(histogram: Sequence[dict[str, Any]], bucket: str | None, layout: Layout = WIDE) -> Timeline | None:
    """One drawing of the histogram; None when it has no dated match."""
    items = []
    for item in histogram:
        try:
            items.append((date.fromisoformat(item["start"]), item["end"], int(item["count"])))
        except (KeyError, TypeError, ValueError):
            continue
    if not items or not bucket or not any(n for _, _, n in items):
        return None
    items = items[-MAX_BARS:]
    peak = max(n for _, _, n in items) or 1
    slot = (layout.width - 2 * SIDE) / len(items)
    bar_width = max(1.5, min(slot * 0.72, 64.0))
    every = -(-len(items) // layout.max_labels)  # ceil: at most max_labels labels
    plot = layout.height - TOP - BOTTOM
    bars: list[Bar] = []
    previous: date | None = None
    for i, (start, end, count) in enumerate(items):
        height = plot * count / peak if count else 0.0
        label = context = ""
        if i % every == 0:
            label, context = _labels(start, bucket, previous)
            previous = start
        bars.append(
            Bar(
                start=start.isoformat(),
                end=end,
                count=count,
                x=round(SIDE + i * slot + (slot - bar_width) / 2, 2),
                y=round(TOP + plot - height, 2),
                width=round(bar_width, 2),
                height=round(height, 2),
                tip=_tip(start, bucket),
                label=label,
                context=context,
                show_count=bool(count) and len(items) <= layout.max_counts,
            )
        )
    return Timeline(
        bars,
        bucket=bucket,
        variant=layout.variant,
        width=layout.width,
        height=layout.height,
        baseline=layout.height - BOTTOM,
        total=sum(b.count for b in bars),
    )


def timelines(histogram: Sequence[dict[str, Any]], bucket: str | None) -> list[Timeline]:
    """The wide and the narrow drawing, or [] when a chart would say nothing (no dates, or a single bar)."""
    drawn = [t for layout in (WIDE, NARROW) if (t := build_timeline(histogram, bucket, layout)) is not None]
    return drawn if drawn and len(drawn[0].bars) > 1 else []
