"""Node API (/api/v1/nodes/…): register, heartbeat, and the node's own state."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import outages, tokens
from core.errors import error_body
from core.throttle import ScopedThrottle
from nodes import heartbeat_body, metrics, services, signals
from nodes.models import Node
from nodes.serializers import (
    HeartbeatAnswerSerializer,
    HeartbeatSerializer,
    NodeStateSerializer,
    RegisteredSerializer,
    RegisterSerializer,
)

log = logging.getLogger(__name__)
UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="streamrp2p-nodes"'}
# The node API's Bearer scheme (declared in SPECTACULAR_SETTINGS["APPEND_COMPONENTS"]).
NODE_AUTH: list[dict[str, list[str]]] = [{"nodeApiKey": []}]

ERRORS = {
    400: OpenApiResponse(description='Bad body: {"error": {"code", "message", "fields"}}'),
    401: OpenApiResponse(description="Missing or unknown API key."),
    429: OpenApiResponse(description="Too many heartbeats; see Retry-After."),
}


def _error(status: int, code: str, message: str) -> Response:
    return Response(error_body(code, message), status=status, headers=UNAUTHORIZED if status == 401 else None)


def _bearer(request: Request) -> str | None:
    return tokens.bearer(request.META.get("HTTP_AUTHORIZATION", ""))


def _waits(api_keys: list[str]) -> list[int | None]:
    """For each key, the seconds until its next heartbeat is allowed (None: allowed now): a
    fixed-window count per key, in one Redis round trip for the whole batch. With Redis down the
    limiter fails open: every beat is allowed (a heartbeat is worth more than its limit)."""
    window = settings.HEARTBEAT_INTERVAL_SECONDS
    now = time.time()
    slot = int(now // window)
    names = [f"hb-rate:{tokens.digest(k)[:32]}:{slot}" for k in api_keys]
    counts = _count(names, window * 2)
    if counts is None:
        return [None] * len(api_keys)
    wait = max(1, math.ceil((slot + 1) * window - now))
    return [wait if count > settings.HEARTBEAT_RATE_LIMIT else None for count in counts]


# One command for a whole batch: each key counted, its expiry set by its window's first beat.
_COUNT_SCRIPT = """
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('INCR', key)
  if counts[i] == 1 then redis.call('EXPIRE', key, ARGV[1]) end
end
return counts
"""


def _count(names: list[str], timeout: int) -> list[int] | None:
    """Each name's count in its window after this beat; None when the cache cannot count now.

    The cache's breaker skips it for a few seconds after it failed, so a dead or hung Redis costs
    one batch a timeout (REDIS_CACHE_OPTIONS), not every batch; one log line per outage, and the
    beats let through are counted (streamr_redis_fail_open_total{use="heartbeat_limiter"})."""
    if not names:
        return []
    if not outages.CACHE.closed():
        outages.CACHE.skipped("heartbeat_limiter", len(names))
        return None
    try:
        counts = _counted(names, timeout)
    except Exception as exc:  # whatever the cache raises (ConnectionError, TimeoutError): fail open
        outages.CACHE.failed(exc, "heartbeat_limiter", len(names))
        return None
    outages.CACHE.succeeded()
    return counts


def _counted(names: list[str], timeout: int) -> list[int]:
    backend = caches["default"]  # ``cache`` is a proxy: ask for the backend itself
    if isinstance(backend, RedisCache):
        # Django's own client (the private attribute is how its RedisCache exposes it): it follows
        # CACHES, timeouts included.
        client = backend._cache.get_client(write=True)  # type: ignore[attr-defined]
        keys = [backend.make_and_validate_key(name) for name in names]
        return [int(n) for n in client.eval(_COUNT_SCRIPT, len(keys), *keys, timeout)]
    counts = []
    for name in names:  # the local default (LocMemCache): no round trips to save
        try:
            counts.append(cache.incr(name))
        except ValueError:  # first beat of this window
            counts.append(1 if cache.add(name, 1, timeout=timeout) else cache.incr(name))
    return counts


class NodeAPIView(APIView):
    """Node endpoints authenticate by hand with the Bearer API key (not sessions or CSRF)."""

    authentication_classes: list[type] = []
    permission_classes = [permissions.AllowAny]


class RegisterView(NodeAPIView):
    # Per client address: enrollment tokens are one-time and 256-bit, but nobody gets to try many.
    throttle_classes = [ScopedThrottle.of("register")]

    @extend_schema(
        request=RegisterSerializer,
        responses={
            201: RegisteredSerializer,
            400: ERRORS[400],
            403: OpenApiResponse(description="Bad token."),
            429: OpenApiResponse(description="Too many registrations from this address; see Retry-After."),
        },
        summary="Register a node with a one-time enrollment token",
    )
    def post(self, request: Request) -> Response:
        form = RegisterSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            node, api_key = services.register_node(**form.validated_data)
        except services.NodeError as exc:
            return _error(exc.status, exc.code, exc.message)
        body = {
            "node_id": node.pk,
            "api_key": api_key,
            "approval": node.approval,
            "heartbeat_interval": node.heartbeat_interval,
        }
        return Response(RegisteredSerializer(body).data, status=201)


Answer = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON body, extra headers


def answer_heartbeats(requests: list[tuple[str, object]]) -> list[Answer]:
    """Heartbeats from their Authorization headers and parsed JSON bodies, answered together.

    The lean ASGI route (nodes/fastpath.py, what production serves) answers the beats that arrive
    together as one batch; the DRF view (the schema, Django's stack) answers a batch of one. Both
    call this, so they cannot drift apart. Checks go in the same order for every beat: a key at
    all (401), the rate limit (429), a known key (401), the body (400).
    """
    answers: list[Answer | None] = [None] * len(requests)
    keys = [tokens.bearer(authorization) for authorization, _ in requests]
    for at, key in enumerate(keys):
        if key is None:
            answers[at] = (401, error_body("unauthenticated", "Send 'Authorization: Bearer <api key>'."), UNAUTHORIZED)
    asking = [at for at, key in enumerate(keys) if key is not None]
    for at, wait in zip(asking, _waits([keys[at] for at in asking]), strict=True):  # type: ignore[misc]
        if wait is not None:
            refusal = error_body("rate_limited", f"Too many heartbeats; retry in {wait} s.")
            answers[at] = (429, refusal, {"Retry-After": str(wait)})

    beats: list[tuple[int, str, services.Heartbeat]] = []
    for at, (_, data) in enumerate(requests):
        key = keys[at]
        if answers[at] is not None or key is None:
            continue
        try:  # one body that breaks the parsers fails itself, never its batch
            beat = heartbeat_body.read(data)
            errors: dict[str, Any] = {}
            if beat is None:
                beat, errors = heartbeat_body.from_serializer(data)
        except Exception:
            log.exception("a heartbeat body broke the parsers")
            answers[at] = (500, error_body("server_error", "Internal server error."), {})
            continue
        if beat is not None:
            beats.append((at, key, beat))
        elif services.authenticate(key) is None:
            answers[at] = (401, error_body("bad_api_key", "Unknown API key."), UNAUTHORIZED)
        else:
            answers[at] = (400, error_body("invalid", "The request body is not valid.", fields=errors), {})

    recorded = services.record_heartbeats([(key, beat) for _, key, beat in beats]) if beats else []
    accepted = 0
    for (at, _, _), outcome in zip(beats, recorded, strict=True):
        if outcome is None:
            answers[at] = (401, error_body("bad_api_key", "Unknown API key."), UNAUTHORIZED)
            continue
        node, result = outcome
        accepted += result.accepted
        stream = result.assignment
        body = {
            "accepted": result.accepted,
            "assignment": {"stream": stream.slug, "origin_rtmp_url": stream.rtmp_url()} if stream else None,
            "next_heartbeat_in": result.interval,
            "approval": node.approval,
            "clamped": list(result.clamped),
        }
        answers[at] = (200, body, {})
    if accepted:
        metrics.HEARTBEATS.inc(accepted)
    missing = [at for at, answer in enumerate(answers) if answer is None]
    if missing:  # every path above answers; a gap is a bug, not a beat to drop silently
        raise RuntimeError(f"heartbeats {missing} were not answered")
    return answers  # type: ignore[return-value]


class HeartbeatView(NodeAPIView):
    @extend_schema(
        request=HeartbeatSerializer,
        responses={200: HeartbeatAnswerSerializer, **ERRORS},
        auth=NODE_AUTH,  # type: ignore[arg-type]
        summary="Report relay state and counters; get the assignment and the next interval",
    )
    def post(self, request: Request) -> Response:
        [(status, body, headers)] = answer_heartbeats([(request.META.get("HTTP_AUTHORIZATION", ""), request.data)])
        return Response(body, status=status, headers=headers)


class MeView(NodeAPIView):
    @extend_schema(
        responses={200: NodeStateSerializer, 401: ERRORS[401]},
        summary="This node's state",
        auth=NODE_AUTH,  # type: ignore[arg-type]
    )
    def get(self, request: Request) -> Response:
        api_key = _bearer(request)
        node = services.authenticate(api_key) if api_key else None
        if node is None:
            return _error(401, "bad_api_key", "Missing or unknown API key.")
        # What the apps above know (validation: reachability; rewards: earning), merged in. A
        # receiver that fails costs its part (logged), never the node its whole state.
        state: dict[str, Any] = {}
        for receiver, answer in signals.node_state_requested.send_robust(sender=Node, node=node):
            if isinstance(answer, Exception):
                log.error("node state receiver %r failed", receiver, exc_info=answer)
            elif answer:
                state.update(answer)
        body = dict(NodeStateSerializer(node, context={"state": state}).data)
        body.update({name: value for name, value in state.items() if name not in body})
        return Response(body)
