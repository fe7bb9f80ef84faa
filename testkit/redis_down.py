"""A fixture for fail-open tests: the cache is a Redis on a port nobody listens on (what a stopped
Redis looks like to a client). Import it into a test module: ``from testkit.redis_down import
redis_unreachable``."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from core import outages


@pytest.fixture
def redis_unreachable(settings: Any) -> Iterator[str]:
    with socket.socket() as probe:  # a free port, closed again: connecting to it is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.5},
        }
    }
    outages.reset()
    yield url
    outages.reset()  # the next test must not skip its cache for REDIS_RETRY_SECONDS
