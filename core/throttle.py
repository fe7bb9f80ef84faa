"""One request limiter for the site: fixed windows counted in the Django cache.

Redis in production (shared by every web process; one atomic INCR per hit), per-process memory
(LocMemCache) otherwise. A name is counted in windows of ``rate.seconds`` aligned on the clock: the
answer is how long to wait until the current window ends, which goes out as ``Retry-After``. A
fixed window lets up to twice the limit through around a window's edge; that is the price of one
round trip and no per-request bookkeeping, and every limit here has room for it.

The limiter FAILS OPEN: when the cache is unreachable (Redis down, refused, timed out) a hit is
allowed. A Redis outage must degrade the site to "unthrottled", never to "everyone refused" or a
500. The cache's breaker (core/outages.py) logs the outage once, counts what went through unchecked on
/metrics, and skips Redis for REDIS_RETRY_SECONDS instead of every request paying a timeout.

Who is counted: a signed-in account by its id, else the client's address (REMOTE_ADDR: the web
tier sets it from X-Forwarded-For of the trusted proxy); an IPv6 client by its /64, since one host
usually holds a whole /64. Limits per scope are ``settings.THROTTLE_RATES``.

Used through ``ScopedThrottle`` (DRF views: ``throttle_classes = [ScopedThrottle.of("scope")]``)
or ``throttled("scope")`` (plain Django views).
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core import outages
from core.errors import MACHINE_PATH_PREFIXES, error_body

T = TypeVar("T")

# What an unreachable cache raises: redis-py's errors, and socket errors from other backends.
CACHE_DOWN: tuple[type[BaseException], ...] = (RedisError, OSError)
USE = "throttle"  # streamr_redis_fail_open_total{use="throttle"}: requests let through unchecked

# The limiter's clock (seconds since the epoch). Tests move it to show a window ending without
# sleeping through it; nothing else should replace it.
clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class Rate:
    limit: int  # requests allowed per window
    seconds: int  # the window

    @classmethod
    def of(cls, scope: str) -> Rate:
        limit, seconds = settings.THROTTLE_RATES[scope]
        return cls(int(limit), int(seconds))


def _key(name: str, rate: Rate, now: float) -> tuple[str, int]:
    """The cache key of ``name``'s current window, and the seconds until that window ends."""
    slot = int(now // rate.seconds)
    left = max(1, math.ceil((slot + 1) * rate.seconds - now))
    return f"throttle:{name}:{rate.seconds}:{slot}", left


def _cached(operation: Callable[[], T], fallback: T) -> T:
    """``operation`` on the cache, or ``fallback`` (allow) while the cache is unreachable."""
    if not outages.CACHE.closed():
        outages.CACHE.skipped(USE)
        return fallback
    try:
        result = operation()
    except CACHE_DOWN as exc:
        outages.CACHE.failed(exc, USE)
        return fallback
    outages.CACHE.succeeded()
    return result


def _incr(key: str, cost: int, ttl: int) -> int:
    backend = caches["default"]  # ``cache`` is a proxy: ask for the backend itself
    if isinstance(backend, RedisCache):
        # One round trip, atomic: the key is created with its expiry if new, then counted.
        # (Django's RedisCache.incr costs an EXISTS first and raises on a new key.)
        client = backend._cache.get_client(key, write=True)  # type: ignore[attr-defined]
        name = backend.make_and_validate_key(key)
        pipe = client.pipeline(transaction=True)
        pipe.set(name, 0, ex=ttl, nx=True)
        pipe.incr(name, cost)
        return int(pipe.execute()[1])
    try:
        return int(backend.incr(key, cost))
    except ValueError:  # the window's first hit
        if backend.add(key, cost, timeout=ttl):
            return cost
        return int(backend.incr(key, cost))


def hit(name: str, rate: Rate, *, cost: int = 1) -> int | None:
    """Count one request against ``name``. None if it is allowed, else the seconds to wait."""
    key, left = _key(name, rate, clock())
    # The key names its window, so keeping it past the window only costs memory: at least a
    # minute, so a slow request (or a test's stopped clock) never sees its count vanish mid-window.
    count = _cached(lambda: _incr(key, cost, max(2 * rate.seconds, 60)), 0)
    return left if count > rate.limit else None


def over(name: str, rate: Rate) -> int | None:
    """Without counting: None if ``name`` is under its limit in this window, else the seconds to wait."""
    key, left = _key(name, rate, clock())
    count = _cached(lambda: int(caches["default"].get(key) or 0), 0)
    return left if count >= rate.limit else None


def forget(name: str, rate: Rate) -> None:
    """Start ``name``'s count over (e.g. an account's failures after its owner logged in)."""
    key, _ = _key(name, rate, clock())
    _cached(lambda: caches["default"].delete(key), False)


# --- Who is counted ------------------------------------------------------------------------------


def _short(text: str) -> str:
    """Keys stay short and safe for any cache whatever the input (usernames, addresses)."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def address_key(address: str) -> str | None:
    """One client, for per-address limits: an IPv4 address (IPv4-mapped IPv6 too), or an IPv6 /64
    (one host gets a whole /64; counting each address in it would be no limit at all). None when
    ``address`` is not an IP address (e.g. a unix socket)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def client_id(request: HttpRequest) -> str:
    """The client's address as a key: IPv4 as is, IPv6 by its /64."""
    raw = request.META.get("REMOTE_ADDR", "") or "unknown"
    return "ip:" + (address_key(raw) or _short(raw))


def account_id(username: str) -> str:
    """An account as a key by its (case-folded) username: variants of one name share one count."""
    return "account:" + _short(username.strip().casefold())


def requester_id(request: HttpRequest) -> str:
    """A signed-in account by id, else the client's address."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return client_id(request)


def check(scope: str, request: HttpRequest) -> int | None:
    """Count ``request`` in ``scope`` (settings.THROTTLE_RATES); None if allowed, else seconds to wait."""
    return hit(f"{scope}:{requester_id(request)}", Rate.of(scope))


# --- Answers -------------------------------------------------------------------------------------


def refusal(
    request: HttpRequest, wait: int, template: str = "429.html", context: dict[str, Any] | None = None
) -> HttpResponse:
    """HTTP 429 with Retry-After: the JSON error body for programs, a page for people."""
    message = f"Too many requests; retry in {wait} s."
    if request.path.startswith(MACHINE_PATH_PREFIXES) or "application/json" in request.headers.get("Accept", ""):
        response: HttpResponse = JsonResponse(error_body("throttled", message), status=429)
    else:
        try:
            values = {"wait": wait, "message": message, **(context or {})}
            page: str = render_to_string(template, values, request=request)
        except TemplateDoesNotExist:
            page = message
        response = HttpResponse(page, status=429)
    response["Retry-After"] = str(wait)
    return response


class ScopedThrottle(BaseThrottle):
    """DRF: count each request of the view in ``scope``; refused ones get DRF's Throttled (429,
    Retry-After; core.errors turns it into ``{"error": {"code": "throttled", ...}}``).
    ``methods`` limits which methods count (None: all)."""

    scope = ""
    methods: frozenset[str] | None = None

    @classmethod
    def of(cls, scope: str, methods: Iterable[str] | None = None) -> type[ScopedThrottle]:
        chosen = frozenset(m.upper() for m in methods) if methods is not None else None
        return type(f"{scope.title().replace('-', '')}Throttle", (cls,), {"scope": scope, "methods": chosen})

    def __init__(self) -> None:
        self._wait: int | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.methods is not None and request.method not in self.methods:
            return True
        self._wait = check(self.scope, request)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


View = TypeVar("View", bound=Callable[..., HttpResponse])


def throttled(scope: str, methods: Iterable[str] | None = None) -> Callable[[View], View]:
    """Plain Django views: count each request (of ``methods``, default all) in ``scope``; answer
    429 with Retry-After (a page, or the JSON error body on machine paths) past the limit."""
    chosen = frozenset(m.upper() for m in methods) if methods is not None else None

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if chosen is None or request.method in chosen:
                wait = check(scope, request)
                if wait is not None:
                    return refusal(request, wait)
            return view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
