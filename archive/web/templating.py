"""Jinja filters for the templates: dates, numbers and safe links."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask

from archive import limits
from archive.web.security import safe_href


def nice_date(value: str | date | datetime | None, with_day: bool = True) -> str:
    """'9 June 2022' from an ISO string or a date; '' when unknown."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value[:10]
    return f"{value.day} {value:%B %Y}" if with_day else f"{value:%B %Y}"


def iso_day(value: str | date | datetime | None) -> str:
    """YYYY-MM-DD for <time datetime=...>."""
    if value in (None, ""):
        return ""
    return value[:10] if isinstance(value, str) else value.strftime("%Y-%m-%d")


def clock(value: str | datetime | None) -> str:
    """'04:37 UTC' from an ISO string or a datetime (copies of a story are often hours apart); '' when unknown."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return ""
    return f"{value:%H:%M} UTC" if isinstance(value, datetime) else ""


def thousands(value: int) -> str:
    """1234 -> '1,234'."""
    return f"{int(value):,}"


def install_filters(app: Flask) -> None:
    """Register the filters on the app's Jinja environment."""
    app.jinja_env.filters.update(
        nice_date=nice_date, clock=clock, iso_day=iso_day, thousands=thousands, safe_href=safe_href
    )
    # The request rules the templates show (modes, sorts, caps): declared once in archive.limits.
    app.jinja_env.globals.update(
        {
            name: getattr(limits, name)
            for name in (
                "MODES",
                "MODE_HELP",
                "DEFAULT_MODE",
                "SORTS",
                "SORT_LABELS",
                "DEFAULT_SORT",
                "MAX_QUERY_CHARS",
                "SAVED_NAME_CHARS",
                "BATCH_TOP_HITS",
            )
        }
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
