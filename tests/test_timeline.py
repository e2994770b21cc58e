"""The date histogram (bucket from the matched range) and the timeline drawn from it (pure)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest

from archive.search.histogram import bucket_end, bucket_start, bucket_value, choose_bucket, date_histogram
from archive.search.results import facets
from archive.web.timeline import NARROW, WIDE, build_timeline, timelines


def days(first: date, count: int, step: int = 1) -> dict[date, int]:
    return {first + timedelta(days=i * step): 1 + i % 3 for i in range(count)}


@pytest.mark.parametrize(
    "first,last,bucket",
    [
        (date(1987, 3, 2), date(1987, 3, 2), "day"),
        (date(1987, 3, 2), date(1987, 3, 9), "day"),  # a one-week range: daily bars
        (date(1987, 3, 1), date(1987, 5, 1), "day"),  # 61 days
        (date(1987, 3, 1), date(1987, 6, 1), "week"),
        (date(1987, 2, 26), date(1987, 10, 20), "month"),  # Reuters-21578
        (date(2022, 1, 1), date(2022, 12, 31), "month"),  # a one-year archive: monthly bars
        (date(2021, 3, 2), date(2023, 8, 30), "year"),
        (date(1987, 1, 1), date(2022, 1, 1), "year"),
    ],
)
def test_bucket_follows_the_matched_range(first, last, bucket):
    assert choose_bucket(first, last) == bucket


def test_buckets_are_half_open_periods_named_plainly():
    wed = date(1987, 3, 4)
    assert bucket_start(wed, "week") == date(1987, 3, 2)  # ISO weeks start on Monday
    assert bucket_end(date(1987, 3, 2), "week") == date(1987, 3, 9)
    assert bucket_end(date(1987, 12, 1), "month") == date(1988, 1, 1)
    assert bucket_end(date(1987, 1, 1), "year") == date(1988, 1, 1)
    assert [bucket_value(date(1987, 3, 2), b) for b in ("day", "week", "month", "year")] == [
        "1987-03-02",
        "1987-W10",
        "1987-03",
        "1987",
    ]


def test_one_year_archive_gets_monthly_bars_over_the_matched_range_only():
    bucket, hist = date_histogram(days(date(1987, 2, 26), 80, step=3))  # 26 Feb to mid-October
    assert bucket == "month"
    assert [h["value"] for h in hist] == [f"1987-{m:02d}" for m in range(2, 11)]
    assert hist[0] == {"value": "1987-02", "start": "1987-02-01", "end": "1987-03-01", "count": hist[0]["count"]}
    assert sum(h["count"] for h in hist) == sum(days(date(1987, 2, 26), 80, step=3).values())
    assert all(a["end"] == b["start"] for a, b in itertools.pairwise(hist))  # contiguous, gaps at zero


def test_one_week_range_gets_daily_bars_with_empty_days_at_zero():
    bucket, hist = date_histogram({date(1987, 3, 2): 4, date(1987, 3, 8): 1, None: 7})
    assert bucket == "day" and len(hist) == 7
    assert [h["count"] for h in hist] == [4, 0, 0, 0, 0, 0, 1]  # undated matches are in no bar
    assert date_histogram({}) == (None, []) and date_histogram({None: 3}) == (None, [])


def test_a_stray_ancient_date_does_not_fill_centuries():
    bucket, hist = date_histogram({date(1, 1, 1): 1, date(2020, 5, 1): 2})
    assert bucket == "year" and [h["value"] for h in hist] == ["0001", "2020"]


def test_facets_count_one_set_of_matches_three_ways():
    counts = {("Reuters", date(1987, 3, 2)): 2, ("Reuters", date(1987, 5, 20)): 1, (None, None): 5}
    lists, bucket = facets(counts)
    assert lists["source"] == [{"value": "Reuters", "count": 3}]
    assert lists["year"] == [{"value": "1987", "count": 3}]
    assert bucket == "week" and sum(h["count"] for h in lists["date"]) == 3


def test_timeline_draws_the_histogram_with_links_to_each_period():
    bucket, hist = date_histogram(days(date(2022, 1, 3), 120, step=3))
    wide = build_timeline(hist, bucket, WIDE)
    assert wide.bucket == "month" and len(wide.bars) == 12
    assert [(b.start, b.end) for b in wide.bars][:2] == [("2022-01-01", "2022-02-01"), ("2022-02-01", "2022-03-01")]
    tallest = max(wide.bars, key=lambda b: b.count)
    assert all(0 <= b.y <= wide.height and b.height <= tallest.height for b in wide.bars)
    assert wide.bars[0].label == "Jan" and wide.bars[0].context == "2022" and wide.bars[1].context == ""
    assert wide.bars[0].tip == "January 2022" and "January 2022: " in wide.summary


@pytest.mark.parametrize("layout", [WIDE, NARROW])
def test_labels_never_crowd_a_phone_or_a_desktop(layout):
    bucket, hist = date_histogram(days(date(1987, 3, 1), 62))  # 62 daily bars
    tl = build_timeline(hist, bucket, layout)
    labelled = [b for b in tl.bars if b.label]
    assert len(labelled) <= layout.max_labels
    gaps = [b.center - a.center for a, b in itertools.pairwise(labelled)]
    assert min(gaps) >= 8 * max(len(b.label) + 2 for b in labelled)  # ~7 units a glyph at 12 units
    assert not any(b.show_count for b in tl.bars)  # 62 counts would overlap: they are in the tooltips
    contexts = [b.context for b in labelled if b.context]
    assert contexts[0] == "Mar 1987" and "Apr" in contexts
    assert max(len(b.label) for b in labelled) <= 4


def test_a_single_bar_or_no_date_draws_nothing():
    bucket, hist = date_histogram({date(2022, 6, 9): 3})
    assert len(hist) == 1 and timelines(hist, bucket) == []
    assert timelines([], None) == []
    bucket, hist = date_histogram({date(2022, 6, 9): 3, date(2022, 6, 13): 1})
    both = timelines(hist, bucket)
    assert [t.variant for t in both] == ["wide", "narrow"] and len(both[0].bars) == 5
