"""Fixtures shared by every app's tests: people (owner, friend, outsider) and streams."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection

from streams import services
from streams.models import Stream
from testkit.workers import isolate_redis

# Origin hook clients (post_srs, post_nginx) are used by every app that needs a live stream.
pytest_plugins = [
    "streams.tests.hook_clients",
    "nodes.tests.fixtures",
    "rewards.tests.fixtures",
    "testkit.fixtures",
    "testkit.browser",
    "accounts.tests.mail_helpers",  # mail_now: emails sent after commit, their jobs run inline
]

StreamFactory = Callable[..., tuple[Stream, str]]


def pytest_configure(config: pytest.Config) -> None:
    """`make test` runs on pytest-xdist workers: each has its own test database (pytest-django)
    and, from here, its own Redis database (testkit/workers.py)."""
    isolate_redis()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's, then at the end of the session: close the sessions that threads of this
    process still hold on the test database (the heartbeat batch writer and other worker threads
    keep one connection each for the process's life), so that dropping it does not fail with
    "database … is being accessed by other users" and leave it behind."""
    yield
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture(autouse=True)
def _fast_password_hashing(request: pytest.FixtureRequest, settings: Any) -> None:
    """Django's own advice for test suites: PBKDF2 takes ~0.4 s per password here by design, and
    most tests make two to four accounts. Not for live tests: their accounts sign in to a server
    process that has production's hashers. Production keeps the default hashers."""
    if request.node.get_closest_marker("live") is None:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def owner(django_user_model: type[User]) -> User:
    """A streamer: owns the streams in these tests."""
    return django_user_model.objects.create_user("owner", "owner@example.com", "owner-pass-123")


@pytest.fixture
def friend(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user("friend", "friend@example.com", "friend-pass-123")


@pytest.fixture
def outsider(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user("outsider", "outsider@example.com", "outsider-pass-123")


@pytest.fixture
def admin_user(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_superuser("root", "root@example.com", "root-pass-123")


@pytest.fixture
def make_stream(owner: User) -> StreamFactory:
    """Create a stream through the service; returns (stream, plain key)."""

    def make(slug: str = "alice", **kwargs: Any) -> tuple[Stream, str]:
        return services.create_stream(owner=kwargs.pop("owner", owner), slug=slug, **kwargs)

    return make


@pytest.fixture
def stream_and_key(make_stream: StreamFactory) -> tuple[Stream, str]:
    return make_stream("alice", title="Alice live")


def pytest_report_header(config: pytest.Config) -> list[str]:
    from django.conf import settings

    database = settings.DATABASES["default"]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    broker = "redis" if "redis" in settings.Q_CLUSTER else "orm"
    test_name = database.get("TEST", {}).get("NAME") or f"test_{database['NAME']}"
    where = f"{database.get('HOST') or 'local'}:{database.get('PORT') or ''}"
    lines = [
        f"database: {database['ENGINE'].rsplit('.', 1)[-1]} at {where}, test database {test_name}",
        f"channel layer: {layer}; django-q2 broker: {broker}",
    ]
    if config.getoption("numprocesses", None):  # pytest-xdist (`make test`): see testkit/workers.py
        lines.append(f"xdist workers: each its own {test_name}_gw<N> database and Redis database REDIS_URL's + N")
    return lines
