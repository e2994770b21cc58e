"""A small thread-safe token-bucket rate limiter keyed by client address (no Flask)."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from archive.errors import ArchiveError

if TYPE_CHECKING:
    from flask import Flask, Response

_PERIODS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}
_SPEC = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d+)?\s*([a-z]+?)s?\s*$", re.IGNORECASE)
MAX_CLIENTS = 10_000  # buckets kept before idle ones are swept


@dataclass(frozen=True)
class Rate:
    """`requests` per `seconds`; the bucket holds at most `requests` tokens (the allowed burst)."""

    requests: int
    seconds: float

    @property
    def per_second(self) -> float:
        """Refill rate in tokens per second."""
        return self.requests / self.seconds


def parse_rate(spec: str) -> Rate | None:
    """'120/minute', '10/second', '1000/hour', '5/10s', '50 per day' -> Rate; 'off' (or '', '0') -> None."""
    text = (spec or "").strip().lower()
    if text in ("", "off", "none", "0", "false", "no"):
        return None
    match = _SPEC.match(text)
    unit = match and (_PERIODS.get(match.group(3)) or _PERIODS.get(match.group(3).rstrip("s")))
    if not match or not unit or int(match.group(1)) < 1:
        raise ArchiveError(f"bad rate limit {spec!r}: use e.g. '120/minute', '10/second' or 'off'")
    return Rate(int(match.group(1)), unit * int(match.group(2) or 1))


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True)
class Decision:
    """Whether one request may proceed, the tokens left and, when refused, the seconds to wait."""

    allowed: bool
    remaining: int
    retry_after: int = 0


class RateLimiter:
    """Token buckets per key: `rate.requests` burst, refilled continuously; safe across threads."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> Decision:
        """Take one token for `key` if there is one."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_CLIENTS:
                    self._sweep(now)
                bucket = self._buckets[key] = _Bucket(float(self.rate.requests), now)
            else:
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(float(self.rate.requests), bucket.tokens + elapsed * self.rate.per_second)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return Decision(True, int(bucket.tokens))
            wait = (1.0 - bucket.tokens) / self.rate.per_second
            return Decision(False, 0, max(1, math.ceil(wait)))

    def _sweep(self, now: float) -> None:
        """Forget buckets that have refilled completely (they behave exactly like new ones)."""
        full = self.rate.seconds
        for key in [k for k, b in self._buckets.items() if now - b.updated >= full]:
            del self._buckets[key]
        if len(self._buckets) >= MAX_CLIENTS:  # all busy: drop the stalest half rather than grow without bound
            for key, _ in sorted(self._buckets.items(), key=lambda kv: kv[1].updated)[: MAX_CLIENTS // 2]:
                del self._buckets[key]


def install_rate_limit(app: Flask, spec: str, applies: Callable[[], bool]) -> RateLimiter | None:
    """Limit requests for which `applies()` is true, per client address; 429 with Retry-After when exhausted."""
    from flask import g, request

    rate = parse_rate(spec)
    if rate is None:
        return None
    limiter = RateLimiter(rate)
    app.extensions["rate_limiter"] = limiter

    @app.before_request
    def _limit() -> None:
        if not applies():
            return
        decision = limiter.hit(request.remote_addr or "unknown")
        g.rate_decision = decision
        if not decision.allowed:
            raise RateLimited(decision.retry_after, rate)
        return

    @app.after_request
    def _headers(response: Response) -> Response:
        decision = g.pop("rate_decision", None)
        if decision is not None:
            response.headers["X-RateLimit-Limit"] = str(rate.requests)
            response.headers["X-RateLimit-Remaining"] = str(decision.remaining)
            if not decision.allowed:
                response.headers["Retry-After"] = str(decision.retry_after)
        return response

    return limiter


class RateLimited(ArchiveError):
    """Too many requests from one client (HTTP 429); `retry_after` is in seconds."""

    status = 429

    def __init__(self, retry_after: int, rate: Rate) -> None:
        super().__init__(
            f"rate limit exceeded ({rate.requests} requests per {rate.seconds:g} seconds); retry after {retry_after} s"
        )
        self.retry_after = retry_after
