"""The production web tier (`manage.py web`) keeps database connections bounded under any load."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from django.conf import settings
from django.db import connection

from testkit.browser import AsgiSite, database_url

pytestmark = pytest.mark.live


@pytest.mark.django_db(transaction=True)
def test_sixty_four_concurrent_clients_never_exhaust_the_database(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("connection pooling is PostgreSQL's; SQLite has no server to exhaust")
    # The server's connections carry their own name (libpq's PGAPPNAME): this test process's
    # idle pooled connections to the same database are not the server's.
    with AsgiSite(tmp_path, PGAPPNAME="web-tier-under-test") as site:
        most = burst(site.url)
    # One server process: its pool and nothing more.
    assert 1 <= most <= settings.DB_POOL_SIZE, most


def burst(url: str) -> int:
    """The most server connections seen while 64 clients ask 320 times; each answer must be 200."""
    most = 0
    done = threading.Event()

    def watch() -> None:  # the server's connections, sampled during the burst (not from a pool:
        nonlocal most  # a pooled connection would outlive the test and block dropping its database)
        with psycopg.connect(database_url(), autocommit=True) as sampler:
            while not done.is_set():
                query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'web-tier-under-test'"
                most = max(most, sampler.execute(query).fetchone()[0])  # type: ignore[index]

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(64) as clients:
            statuses = list(clients.map(lambda _: httpx.get(url + "/healthz", timeout=30).status_code, range(320)))
    finally:
        done.set()
        watcher.join()
    assert set(statuses) == {200}
    return most
