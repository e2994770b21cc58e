"""The date histogram of a result set: counts per day, week, month or year over the matched range; pure.

The bucket follows the span from the first to the last matching day, so the bars say
something at every zoom level: at most `DAY_SPAN` days apart -> days, at most
`WEEK_SPAN` -> weeks (ISO, from Monday), at most `MONTH_SPAN` -> months, else years.
A one-week range gets daily bars, a year of news monthly ones, Reuters 1987 (Feb to Oct)
monthly, a 35-year archive yearly. Buckets run from the one holding the first match to
the one holding the last, empty ones included at zero and nothing outside: no empty
decades on the axis. Each bucket carries `start` (inclusive) and `end` (exclusive) days,
exactly the `after` and `before` parameters that narrow a search to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

BUCKETS: tuple[str, ...] = ("day", "week", "month", "year")
DAY_SPAN = 62  # days between first and last match for daily bars (two months)
WEEK_SPAN = 183  # ... for weekly bars (half a year)
MONTH_SPAN = 731  # ... for monthly bars (two years)
MAX_FILLED = 400  # beyond this many buckets (centuries of years: a stray date), empty ones are left out


def choose_bucket(first: date, last: date) -> str:
    """The bucket for matches from `first` to `last` (see the module docstring)."""
    span = (last - first).days
    if span <= DAY_SPAN:
        return "day"
    if span <= WEEK_SPAN:
        return "week"
    if span <= MONTH_SPAN:
        return "month"
    return "year"


def bucket_start(day: date, bucket: str) -> date:
    """The first day of the bucket holding `day`."""
    if bucket == "day":
        return day
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def bucket_end(start: date, bucket: str) -> date:
    """The first day after the bucket starting at `start` (exclusive end)."""
    if bucket == "day":
        return start + timedelta(days=1)
    if bucket == "week":
        return start + timedelta(days=7)
    if bucket == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return date(start.year + 1, 1, 1)


def bucket_value(start: date, bucket: str) -> str:
    """The bucket's name: 1987-03-02 (day), 1987-W10 (ISO week), 1987-03 (month), 1987 (year)."""
    if bucket == "day":
        return start.isoformat()
    if bucket == "week":
        year, week, _ = start.isocalendar()
        return f"{year:04d}-W{week:02d}"
    if bucket == "month":
        return f"{start.year:04d}-{start.month:02d}"
    return f"{start.year:04d}"


def date_histogram(day_counts: Mapping[date, int]) -> tuple[str | None, list[dict[str, Any]]]:
    """(bucket, [{"value", "start", "end", "count"}, ...]) over the matched range; (None, []) without dated matches."""
    days = {d: n for d, n in day_counts.items() if d is not None and n}
    if not days:
        return None, []
    bucket = choose_bucket(min(days), max(days))
    counts: dict[date, int] = {}
    for day, n in days.items():
        start = bucket_start(day, bucket)
        counts[start] = counts.get(start, 0) + n
    starts = _filled(min(counts), max(counts), bucket) or sorted(counts)
    out = []
    for start in starts:
        try:
            end = bucket_end(start, bucket)
        except (ValueError, OverflowError):  # the year 9999
            end = date.max
        out.append(
            {
                "value": bucket_value(start, bucket),
                "start": start.isoformat(),
                "end": end.isoformat(),
                "count": counts.get(start, 0),
            }
        )
    return bucket, out


def _filled(first: date, last: date, bucket: str) -> list[date]:
    """Every bucket start from `first` to `last`; [] when there would be more than MAX_FILLED."""
    if bucket == "year" and last.year - first.year >= MAX_FILLED:
        return []
    starts = [first]
    while starts[-1] < last:
        starts.append(bucket_end(starts[-1], bucket))
    return starts
