"""`make test` runs the suite on pytest-xdist workers: each worker has its own Redis database, as
pytest-django gives each its own test database (testkit/workers.py)."""

from __future__ import annotations

import os

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django_q.conf import Conf

from testkit import workers
from testkit.workers import redis_url_for_worker, worker_index


@pytest.mark.parametrize(
    ("url", "index", "moved"),
    [
        ("redis://127.0.0.1:6379/0", 1, "redis://127.0.0.1:6379/1"),
        ("redis://127.0.0.1:6379/7", 2, "redis://127.0.0.1:6379/9"),
        ("redis://127.0.0.1:6379", 1, "redis://127.0.0.1:6379/1"),
        ("redis://127.0.0.1:6379/15", 1, "redis://127.0.0.1:6379/0"),  # a default Redis has 16
        (
            "rediss://:pw@cache.example:6380/3?ssl_cert_reqs=none",
            1,
            "rediss://:pw@cache.example:6380/4?ssl_cert_reqs=none",
        ),
        ("redis://127.0.0.1:6379/0?db=2", 1, "redis://127.0.0.1:6379/0?db=3"),
        ("unix:///run/redis.sock", 1, "unix:///run/redis.sock?db=1"),
        ("redis://127.0.0.1:6379/4", 0, "redis://127.0.0.1:6379/4"),
    ],
)
def test_each_worker_gets_the_next_redis_database(url, index, moved):
    assert redis_url_for_worker(url, index) == moved


def test_the_cache_channel_layer_broker_and_started_servers_share_this_workers_redis_database():
    if not settings.REDIS_URL:
        pytest.skip("no REDIS_URL: the in-memory defaults are per process anyway")
    index = worker_index() or 0
    assert workers.given_redis_url is not None
    assert redis_url_for_worker(workers.given_redis_url, index) == settings.REDIS_URL
    assert (workers.given_redis_url != settings.REDIS_URL) == (index > 0)
    assert os.environ["REDIS_URL"] == settings.REDIS_URL  # what servers started by tests inherit
    assert settings.CACHES["default"]["LOCATION"] == settings.REDIS_URL
    assert settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"] == settings.REDIS_URL
    assert settings.Q_CLUSTER["redis"] == Conf.REDIS == settings.REDIS_URL
    database = int(settings.REDIS_URL.rsplit("/", 1)[-1])
    # The connections themselves: the one the tests' cache.clear() (FLUSHDB) empties, and the channel layer's.
    assert cache._cache.get_client(write=True).connection_pool.connection_kwargs["db"] == database
    layer = get_channel_layer()
    assert layer is not None and layer.hosts[0]["address"] == settings.REDIS_URL
