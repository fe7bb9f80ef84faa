"""`make bench`: every benchmark of the path a heartbeat, a hook, a check, a push, a settlement and
a relayed segment take, one after another on this machine, then one table: each figure beside a
ceiling measured in the same run (the same server answering without work, the bare SQL
aggregate, plain `ffmpeg -c copy`, nginx serving the same files, the bare channel-layer send) and
the ratio. Needs what production has: PostgreSQL (DATABASE_URL) and Redis (REDIS_URL); nginx with
the rtmp module, ffmpeg and wrk (Debian packages). Runs in under 10 minutes.
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/all.py
Each line can be rerun alone with its own script (bench/README.md).
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable

import agent
import coverage
import fanout
import hooks
import settlement
import storage
import web_heartbeats
from common import Row, print_rows, test_database
from django.conf import settings
from django.db import connection


def in_test_database(measure: Callable[[], list[Row]]) -> Callable[[], list[Row]]:
    def run() -> list[Row]:
        with test_database():
            return measure()

    return run


STEPS: list[tuple[str, Callable[[], list[Row]]]] = [
    ("heartbeats through the web tier (wrk, 10,000 nodes)", lambda: web_heartbeats.rows(10_000, 10)),
    ("origin hooks through the web tier (wrk)", lambda: hooks.rows(8)),
    ("websocket fan-out (2,000 dashboards)", lambda: fanout.rows(2000)),
    ("spot-check capacity (10,000 relays, 2 workers)", lambda: coverage.rows(10_000, 2, 2)),
    ("settlement (10,000 nodes x 1 hour)", in_test_database(lambda: settlement.rows(10_000))),
    ("the agent relaying 8 Mbit/s to 100 viewers", lambda: agent.rows(30)),
    ("storage over a simulated week", in_test_database(lambda: storage.rows(60))),
]


def machine() -> str:
    """What ran the table (asked of the test database's server and of Redis)."""
    import redis

    with test_database(), connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = str(cursor.fetchone()[0]).split()[0]  # type: ignore[index]
    version = redis.Redis.from_url(settings.REDIS_URL).info("server")["redis_version"]
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    system = f"{platform.platform(terse=True)}, Python {platform.python_version()}"
    return (
        f"{os.cpu_count()} cores, {memory:.0f} GiB, {system}, PostgreSQL {postgres}, Redis {version}; "
        "every load generator on the same machine"
    )


def main() -> None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql" or not settings.REDIS_URL:
        raise SystemExit("make bench measures what production runs: set DATABASE_URL (PostgreSQL) and REDIS_URL")
    began = time.monotonic()
    where = machine()
    table: list[Row] = []
    for what, step in STEPS:
        started = time.monotonic()
        print(f"\n=== {what}", flush=True)
        table += step()
        print(f"=== {what}: {time.monotonic() - started:.0f} s", flush=True)
    print(f"\n## make bench, {time.strftime('%Y-%m-%d')}, {time.monotonic() - began:.0f} s")
    print(where)
    print()
    print_rows(table)


if __name__ == "__main__":
    sys.exit(main())
