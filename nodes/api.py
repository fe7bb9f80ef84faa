"""Node API (/api/v1/nodes/…): register, heartbeat, and the node's own state."""

from __future__ import annotations

import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import tokens
from core.errors import error_body
from nodes import metrics, services
from nodes.serializers import (
    HeartbeatAnswerSerializer,
    HeartbeatSerializer,
    NodeStateSerializer,
    RegisteredSerializer,
    RegisterSerializer,
)

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


def _seconds_until_allowed(api_key: str) -> int | None:
    """Fixed-window limit per key (checked before any database work); None when allowed."""
    window = settings.HEARTBEAT_INTERVAL_SECONDS
    now = time.time()
    slot = int(now // window)
    key = f"hb-rate:{tokens.digest(api_key)[:32]}:{slot}"
    try:
        count = cache.incr(key)  # one round trip in the common case
    except ValueError:  # first beat of this window
        count = 1 if cache.add(key, 1, timeout=window * 2) else cache.incr(key)
    if count > settings.HEARTBEAT_RATE_LIMIT:
        return max(1, math.ceil((slot + 1) * window - now))
    return None


class NodeAPIView(APIView):
    """Node endpoints authenticate by hand with the Bearer API key (not sessions or CSRF)."""

    authentication_classes: list[type] = []
    permission_classes = [permissions.AllowAny]


class RegisterView(NodeAPIView):
    @extend_schema(
        request=RegisterSerializer,
        responses={
            201: RegisteredSerializer,
            400: ERRORS[400],
            403: OpenApiResponse(description="Bad token."),
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


def heartbeat_answer(authorization: str, data: object) -> tuple[int, dict[str, Any], dict[str, str]]:
    """One heartbeat from its Authorization header and parsed JSON body: (status, body, headers).
    Both the DRF view (the schema, Django's stack) and the lean ASGI route (nodes/fastpath.py, what
    production serves) answer with this, so they cannot drift apart."""
    api_key = tokens.bearer(authorization)
    if api_key is None:
        return 401, error_body("unauthenticated", "Send 'Authorization: Bearer <api key>'."), UNAUTHORIZED
    wait = _seconds_until_allowed(api_key)
    if wait is not None:
        return 429, error_body("rate_limited", f"Too many heartbeats; retry in {wait} s."), {"Retry-After": str(wait)}
    node = services.authenticate(api_key)
    if node is None:
        return 401, error_body("bad_api_key", "Unknown API key."), UNAUTHORIZED
    form = HeartbeatSerializer(data=data)
    if not form.is_valid():
        return 400, error_body("invalid", "The request body is not valid.", fields=form.errors), {}
    valid: dict[str, Any] = form.validated_data
    beat = services.Heartbeat(
        seq=valid["seq"],
        agent_session=valid["agent_session"],
        session_started_at=valid["session_started_at"],
        bytes_served=valid["counters"]["bytes_served"],
        segments_served=valid["counters"]["segments_served"],
        http_requests=valid["counters"]["http_requests"],
        viewers=valid["viewers"],
        ffmpeg_running=valid["relay"]["ffmpeg_running"],
        newest_segment_age=valid["relay"]["newest_segment_age"],
        agent_version=valid["agent_version"],
        stream=valid.get("stream") or "",
        public_url=valid.get("public_url"),
    )
    result = services.record_heartbeat(node, beat)
    if result.accepted:
        metrics.HEARTBEATS.inc()
    stream = result.assignment
    body = {
        "accepted": result.accepted,
        "assignment": {"stream": stream.slug, "origin_rtmp_url": stream.rtmp_url()} if stream else None,
        "next_heartbeat_in": result.interval,
        "approval": node.approval,
        "clamped": list(result.clamped),
    }
    return 200, body, {}


class HeartbeatView(NodeAPIView):
    @extend_schema(
        request=HeartbeatSerializer,
        responses={200: HeartbeatAnswerSerializer, **ERRORS},
        auth=NODE_AUTH,  # type: ignore[arg-type]
        summary="Report relay state and counters; get the assignment and the next interval",
    )
    def post(self, request: Request) -> Response:
        status, body, headers = heartbeat_answer(request.META.get("HTTP_AUTHORIZATION", ""), request.data)
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
        return Response(NodeStateSerializer(node).data)
