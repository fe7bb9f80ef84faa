"""The production web tier (`manage.py web`) keeps database connections bounded under any load."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.live


def test_sixty_four_concurrent_clients_never_exhaust_the_database(asgi_site):
    if connection.vendor != "postgresql":
        pytest.skip("connection pooling is PostgreSQL's; SQLite has no server to exhaust")
    most = 0
    done = threading.Event()

    def watch() -> None:  # the server's connections to the test database, sampled during the burst
        nonlocal most
        from django.db import connections

        with connections.create_connection("default").cursor() as cursor:
            while not done.is_set():
                others = "datname = current_database() AND pid <> pg_backend_pid()"
                cursor.execute(f"SELECT count(*) FROM pg_stat_activity WHERE {others}")  # noqa: S608
                most = max(most, cursor.fetchone()[0])

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(64) as clients:
            statuses = list(
                clients.map(lambda _: httpx.get(asgi_site.url + "/healthz", timeout=30).status_code, range(320))
            )
    finally:
        done.set()
        watcher.join()
    assert set(statuses) == {200}
    # One server process: its pool, plus this test's own connection.
    assert most <= settings.DB_POOL_SIZE + 1, most
