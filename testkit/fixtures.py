"""Pytest fixtures for live tests: the site as a live server, a real origin, real agents."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings as django_settings

from nodes import services
from streams.models import StreamSession
from testkit.agents import AgentProcess
from testkit.media import NginxRtmpOrigin, require_media


def eventually(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"not within {timeout}s: {what}")


def live_session_exists() -> bool:
    return StreamSession.objects.filter(ended_at__isnull=True).exists()


@pytest.fixture
def site(live_server, settings) -> str:  # type: ignore[no-untyped-def]
    settings.HEARTBEAT_INTERVAL_SECONDS = 2  # quick assignment changes; stored per node at registration
    settings.STREAM_SESSION_SILENCE_SECONDS = 6
    settings.NODE_MAX_PER_USER = 100  # one test friend runs the honest agents and every adversary
    return str(live_server.url).replace("localhost", "127.0.0.1")


@pytest.fixture
def origin(tmp_path, site, settings) -> Iterator[NginxRtmpOrigin]:  # type: ignore[no-untyped-def]
    require_media()
    with NginxRtmpOrigin(
        tmp_path / "origin", hook_base_url=site, secret=django_settings.HOOK_SECRET, update_seconds=2
    ) as running:
        # Assignments tell agents to pull from here; spot-checks read the origin's HLS here.
        settings.ORIGIN_RTMP_URL = f"rtmp://127.0.0.1:{running.rtmp_port}/{{app}}/{{stream}}"
        settings.ORIGIN_HLS_URL = f"http://127.0.0.1:{running.http_port}/hls/{{stream}}.m3u8"
        yield running


@pytest.fixture
def enroll(tmp_path, site, friend) -> Iterator[Callable[..., AgentProcess]]:  # type: ignore[no-untyped-def]
    agents: list[AgentProcess] = []

    def make(name: str, coordinator: str | None = None) -> AgentProcess:
        _, token = services.create_enrollment_token(friend)
        agent = AgentProcess(tmp_path / "agents", name=name, coordinator=coordinator or site)
        agent.register(token)
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        code = agent.stop()
        # Shown by pytest when the test fails: what each agent said.
        print(f"--- {agent.name} (exit {code}) ---\n" + "\n".join(agent.log().splitlines()[-25:]))


@pytest.fixture(scope="session", autouse=True)
def _pools_closed_before_the_test_database_is_dropped(django_db_setup: None) -> Iterator[None]:
    """Threads the tests start (the heartbeat batcher, Channels' pool threads) return their
    connections to the psycopg pool, which keeps them open: closed here, after the last test and
    before pytest-django drops the test database (which it cannot while anyone is connected)."""
    yield
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        close_pool = getattr(connection, "close_pool", None)  # PostgreSQL's wrapper, with a pool
        if close_pool is not None and getattr(connection, "pool", None) is not None:
            close_pool()
