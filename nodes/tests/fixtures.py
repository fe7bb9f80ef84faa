"""Node fixtures: registered nodes and a heartbeat client that speaks like the agent."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from nodes import services
from nodes.models import Node


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


@pytest.fixture
def register(friend, settings) -> Callable[..., tuple[Node, str]]:
    """Registers nodes through the service. Tests build networks of many nodes with one friend, so
    the per-friend cap is lifted here (test_node_cap.py tests the cap itself)."""
    settings.NODE_MAX_PER_USER = 1000

    def make(name: str = "n1", user: Any = None, public_url: str | None = None) -> tuple[Node, str]:
        _, token = services.create_enrollment_token(user or friend)
        return services.register_node(token=token, name=name, public_url=public_url or f"http://{name}.example:8090")

    return make


def beat_body(seq: int = 1, session: str = "s1", started: str | None = None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "seq": seq,
        "agent_session": session,
        "session_started_at": started or "2026-01-01T00:00:00Z",
        "stream": "",
        "counters": {"bytes_served": 0, "segments_served": 0, "http_requests": 0},
        "viewers": 0,
        "relay": {"ffmpeg_running": False, "newest_segment_age": None},
        "agent_version": "0.1.0",
    }
    body.update(overrides)
    return body


class NodeClient:
    def __init__(self, client: Client, api_key: str) -> None:
        self.client = client
        self.api_key = api_key
        self.session = uuid.uuid4().hex
        self.started = timezone.now().isoformat()  # a later client is a later agent session
        self.seq = 0

    def beat(self, **overrides: Any) -> Any:
        self.seq += 1
        body = beat_body(self.seq, self.session, self.started, **overrides)
        return self.post(body)

    def post(self, body: Any, *, raw: bytes | None = None, api_key: str | None = None) -> Any:
        return self.client.post(
            "/api/v1/nodes/heartbeat",
            data=raw if raw is not None else json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {api_key or self.api_key}",
        )


@pytest.fixture
def node_client(client: Client) -> Callable[[str], NodeClient]:
    return lambda api_key: NodeClient(client, api_key)
