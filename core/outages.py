"""Going on without Redis: the heartbeat rate limiter, dashboard presence and live pushes use it,
but none of them is worth failing a heartbeat or an origin hook for (issue 17: with Redis down every
heartbeat answered 500, and SRS refuses every publish while its hooks fail).

Each Redis the site talks to (the cache, the channel layer) has a ``Breaker``. A call that fails
opens it: for ``REDIS_RETRY_SECONDS`` callers skip that Redis at once instead of each paying a
connect or read timeout, then the next call tries again. An outage is logged once when it begins and
once when it ends (not once per request: SRS calls a hook for every segment and every node beats
every 10 s), and counted on /metrics:

- ``streamr_redis_outages_total{dependency}``: outages this process saw begin (``cache``,
  ``channel_layer``);
- ``streamr_redis_fail_open_total{use}``: operations that went on without Redis: heartbeats let
  through the rate limit unchecked (``heartbeat_limiter``), users taken as present (``presence``),
  live pushes dropped (``live_push``), readiness answers given with Redis down (``readiness``).
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from prometheus_client import Counter

log = logging.getLogger(__name__)

# Made without a registry, as nodes/metrics.py: web/ops.py serves them (core may not import web).
OUTAGES = Counter(
    "streamr_redis_outages", "Redis outages this process saw begin (one log line each).", ["dependency"], registry=None
)
FAIL_OPEN = Counter(
    "streamr_redis_fail_open",
    "Operations that went on without Redis: heartbeats let through the rate limit unchecked, "
    "users taken as present, live pushes dropped.",
    ["use"],
    registry=None,
)


class Breaker:
    """Whether one Redis is worth trying now, and the log lines of its outages."""

    def __init__(self, dependency: str) -> None:
        self.dependency = dependency
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._retry_at = 0.0
        _ALL.append(self)

    def closed(self) -> bool:
        """True: try Redis. False: it failed less than REDIS_RETRY_SECONDS ago, go on without it."""
        return time.monotonic() >= self._retry_at

    def failed(self, error: BaseException, use: str, items: int = 1) -> None:
        """A call for ``use`` failed: its ``items`` operations go on without Redis, and so does
        every use of this Redis for the next REDIS_RETRY_SECONDS."""
        with self._lock:
            now = time.monotonic()
            began = self._down_since is None
            if began:
                self._down_since = now
            self._retry_at = now + settings.REDIS_RETRY_SECONDS
        FAIL_OPEN.labels(use).inc(items)
        if began:
            OUTAGES.labels(self.dependency).inc()
            log.warning(
                "redis (%s) unavailable, going on without it and trying again every %s s (noticed by %s): %s: %s",
                self.dependency,
                settings.REDIS_RETRY_SECONDS,
                use,
                type(error).__name__,
                str(error) or "no answer in time",
            )

    def skipped(self, use: str, items: int = 1) -> None:
        """``items`` operations of ``use`` went on without Redis, which was not tried."""
        FAIL_OPEN.labels(use).inc(items)

    def succeeded(self) -> None:
        if self._down_since is None:  # the common case: no lock taken
            return
        with self._lock:
            since, self._down_since, self._retry_at = self._down_since, None, 0.0
        if since is not None:
            log.warning("redis (%s) available again after %.1f s", self.dependency, time.monotonic() - since)

    def reset(self) -> None:
        with self._lock:
            self._down_since, self._retry_at = None, 0.0


_ALL: list[Breaker] = []
CACHE = Breaker("cache")  # Django's cache: the heartbeat rate limiter, dashboard presence
CHANNEL_LAYER = Breaker("channel_layer")  # live pushes


def reset() -> None:
    """Close every breaker (tests that restart Redis, so the next test does not wait out a retry)."""
    for breaker in _ALL:
        breaker.reset()
