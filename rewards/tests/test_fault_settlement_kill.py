"""A settlement worker killed mid-run (issue 17): SIGKILL, no clean-up of any kind. Run again, every
closed hour of every stream is settled exactly once, each node is credited once per hour, and each
hour's credits add up to its pool exactly.

Settlement runs as the worker runs it: ``rewards.tasks.settle_due_hours`` in its own process,
against this test's database (committed rows: a transactional test). The kills land at points
the test makes certain with the database's own locks, not with hooks in the code:
- inside an hour's transaction, its Settlement row written and its credits not yet: the test
  holds a lock on the ledger table that the credits' COPY waits for;
- with hours already committed and the next one's INSERT waiting on a row the test is inserting;
- right after an hour committed (the test sees the row appear), and at random moments.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from django.conf import settings
from django.utils import timezone

from nodes.models import Node
from rewards import services
from rewards.models import EntryKind, LedgerEntry, Settlement
from rewards.tests.helpers import origin_alive, relayed
from streams import services as stream_services
from streams.models import Origin, OriginMinute, Stream, StreamSession
from testkit.browser import database_url

# Each run of the worker is a Python process starting Django: seconds each on a loaded machine.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live, pytest.mark.timeout(300)]

HOUR = timedelta(hours=1)
STREAMS = ("alpha", "bravo", "charlie")
HOURS = 4
NODES_PER_STREAM = 7  # 6.00 an hour does not split evenly in 7: the largest remainder must add up
APP = "settlement-under-test"  # the worker's connections carry this name (libpq's PGAPPNAME)
WORKER = "import django; django.setup(); from rewards.tasks import settle_due_hours; print(settle_due_hours())"


@pytest.fixture
def closed_hours(
    make_stream: Callable[..., tuple[Stream, str]], register: Callable[..., tuple[Node, str]]
) -> list[tuple[Stream, datetime]]:
    """Three streams live for four closed hours, their origins alive, seven nodes relaying each
    all the time; the stream-hours in the order settlement takes them (oldest hour first, by slug)."""
    first = services.hour_start(timezone.now()) - (HOURS + 1) * HOUR
    hours = [first + n * HOUR for n in range(HOURS)]
    for slug in STREAMS:
        stream, key = make_stream(slug, reward_rate_per_hour=Decimal("6.00"))
        stream_services.admit_publish(
            stream_services.PublishRequest(origin=Origin.SRS, app="live", slug=slug, key=key, client_id=slug)
        )
        StreamSession.objects.filter(stream=stream).update(started_at=first, ended_at=first + HOURS * HOUR)
        OriginMinute.objects.filter(stream=stream).delete()  # the publish just now is not in those hours
        for hour in hours:
            origin_alive(stream, hour, range(60))
        for n in range(NODES_PER_STREAM):
            node, _ = register(f"{slug}-{n}")
            for hour in hours:
                relayed(node, stream, hour, range(60))
    streams = sorted(Stream.objects.filter(slug__in=STREAMS), key=lambda s: s.slug)
    return [(stream, hour) for hour in hours for stream in streams]


def start_worker() -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": database_url(), "PGAPPNAME": APP}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.Popen(
        [sys.executable, "-c", WORKER], cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def kill(worker: subprocess.Popen[bytes]) -> bool:
    """SIGKILL; True when it was still running (the kill interrupted it)."""
    running = worker.poll() is None
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    return running


@pytest.fixture
def observer() -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(database_url(), autocommit=True) as connection:
        yield connection


def settled(db: psycopg.Connection[tuple[object, ...]]) -> int:
    return int(db.execute("SELECT count(*) FROM rewards_settlement").fetchone()[0])  # type: ignore[index, arg-type]


def wait_until(condition: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def waiting_statement(db: psycopg.Connection[tuple[object, ...]]) -> str:
    """The statement the worker is waiting on a lock in, or ''."""
    query = "SELECT query FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'"
    row = db.execute(query, [APP]).fetchone()
    return str(row[0]) if row else ""


def worker_gone(db: psycopg.Connection[tuple[object, ...]]) -> bool:
    """The killed worker's server side has ended too (its open transaction rolled back)."""
    query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
    return not db.execute(query, [APP]).fetchone()[0]  # type: ignore[index]


@contextmanager
def held(statement: str, params: list[object] | None = None) -> Iterator[None]:
    """A statement run in a transaction that stays open (its locks held) until the block ends."""
    with psycopg.connect(database_url()) as locker:
        locker.execute(statement, params or [])
        try:
            yield
        finally:
            locker.rollback()


def kill_while_blocked(observer: psycopg.Connection[tuple[object, ...]], statement: str, params: list[object]) -> str:
    """Kill the worker once it waits for the lock ``statement`` holds; the statement it waited in."""
    with held(statement, params):
        worker = start_worker()
        try:
            wait_until(lambda: bool(waiting_statement(observer)), what="the worker to wait for the test's lock")
            waited = waiting_statement(observer)
        finally:
            assert kill(worker), worker.stderr.read().decode() if worker.stderr else ""
    wait_until(lambda: worker_gone(observer), what="the killed worker's connection to end")
    return waited


def test_a_worker_killed_mid_settlement_settles_every_hour_exactly_once_when_run_again(
    closed_hours: list[tuple[Stream, datetime]], observer: psycopg.Connection[tuple[object, ...]]
) -> None:
    kills: list[str] = []
    # 1. Inside the first hour's transaction: its Settlement row is written, its credits' COPY
    # waits for the ledger lock the test holds. Killed there, the transaction rolls back whole.
    waited = kill_while_blocked(observer, "LOCK TABLE rewards_ledgerentry IN SHARE MODE", [])
    assert waited.startswith("COPY"), waited
    assert settled(observer) == 0 and not LedgerEntry.objects.exists()
    kills.append("inside the first hour's transaction: 0 settled")

    # 2. After three stream-hours committed: the fourth's INSERT waits on the row the test is
    # inserting for the same stream and hour (the unique constraint), inside its transaction.
    stream, hour = closed_hours[3]
    insert = (
        "INSERT INTO rewards_settlement (stream_id, hour, live_seconds, pool, credited, nodes, settled_at, duration_ms)"
        " VALUES (%s, %s, 0, 0, 0, 0, now(), 0)"
    )
    waited = kill_while_blocked(observer, insert, [stream.pk, hour])
    assert waited.startswith('INSERT INTO "rewards_settlement"'), waited
    assert settled(observer) == 3
    kills.append("waiting inside the fourth stream-hour's transaction: 3 settled")

    # 3. Right after the next hour committed (the row seen): wherever the worker is then.
    before = settled(observer)
    worker = start_worker()
    wait_until(lambda: settled(observer) > before or worker.poll() is not None, what="a settlement")
    if kill(worker):
        wait_until(lambda: worker_gone(observer), what="the killed worker's connection to end")
    kills.append(f"just after a commit: {settled(observer)} settled")

    # 4. Random moments once the worker is connected (seeded: a failure can be replayed).
    chance = random.Random(17)
    for _ in range(2):
        worker = start_worker()
        wait_until(lambda w=worker: not worker_gone(observer) or w.poll() is not None, what="the worker to connect")
        time.sleep(chance.uniform(0, 0.5))
        if kill(worker):
            wait_until(lambda: worker_gone(observer), what="the killed worker's connection to end")
        kills.append(f"at a random moment: {settled(observer)} settled")

    # Run to the end; a run after that finds nothing left to settle.
    worker = start_worker()
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err.decode()[-3000:]
    kills.append(f"run to the end: {int(out.decode().strip())} more settled")
    assert services.settle_due() == []
    print("; ".join(kills))
    assert_settled_exactly_once(closed_hours)


def assert_settled_exactly_once(closed_hours: list[tuple[Stream, datetime]]) -> None:
    settlements = list(Settlement.objects.all())
    assert Counter((s.stream_id, s.hour) for s in settlements) == Counter((s.pk, h) for s, h in closed_hours)
    credits = list(LedgerEntry.objects.filter(kind=EntryKind.CREDIT))
    # Each node once per settled hour: the node's stream, every hour.
    assert Counter((c.settlement_id, c.node_id) for c in credits).most_common(1)[0][1] == 1
    assert Counter(c.node_id for c in credits) == Counter(
        {node.pk: HOURS for node in Node.objects.filter(name__contains="-")}
    )
    for settlement in settlements:
        amounts = [c.amount for c in credits if c.settlement_id == settlement.pk]
        assert settlement.pool == Decimal("6.00") and settlement.live_seconds == 3600
        assert len(amounts) == settlement.nodes == NODES_PER_STREAM
        assert sum(amounts, Decimal(0)) == settlement.credited == settlement.pool  # to the cent
        assert max(amounts) - min(amounts) <= Decimal("0.01")  # equal work, equal shares
