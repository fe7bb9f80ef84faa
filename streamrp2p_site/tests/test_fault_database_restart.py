"""PostgreSQL restarted under the production web tier (issue 17): while it is down every request
answers 503 with Retry-After within a few seconds (no 500, no hang), answers turn 200 again within
seconds of it coming back, and every heartbeat answered 200 is in the minute buckets exactly once.

The database is a private server of this test's own (testkit/postgres.py): the machine's server is
shared by every other test and is never the one restarted.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import OperationalError

from core import database
from core.database import connection_lost, unavailable
from core.errors import DATABASE_RETRY_AFTER
from nodes.batching import Batcher
from nodes.tests.fixtures import beat_body
from testkit.media import free_port, stop_process, wait_for_port
from testkit.postgres import PrivatePostgres

# A private server, migrations, the web tier and about 20 s of traffic: longer than most tests.
pytestmark = [pytest.mark.live, pytest.mark.timeout(300)]

NODES = 8  # each sends its beats one after another, so its sequence numbers arrive in order
PAUSE = 0.05  # between one node's beats: ~100 beats/s in all while the database is up
DOWN_FOR = 3.0  # seconds between the end of the server's shutdown and its start
HOOK_SECRET = "fault-test-hook-secret"


@dataclass
class Answer:
    sent: float
    took: float
    status: int
    code: str = ""  # the error code of a refusal
    accepted: bool = False
    retry_after: str | None = None


@dataclass
class Driver:
    """One node's agent, beating at a steady rate until told to stop."""

    url: str
    key: str
    answers: list[Answer] = field(default_factory=list)
    seq: int = 0
    highest_accepted: int = 0

    def run(self, stop: threading.Event) -> None:
        session, started = uuid.uuid4().hex, "2026-01-01T00:00:00Z"
        with httpx.Client(timeout=15) as client:
            while not stop.is_set():
                self.seq += 1
                sent = time.monotonic()
                response = client.post(
                    self.url + "/api/v1/nodes/heartbeat",
                    json=beat_body(self.seq, session, started),
                    headers={"Authorization": f"Bearer {self.key}"},
                )
                answer = _answer(sent, response)
                answer.accepted = response.status_code == 200 and response.json()["accepted"]
                if answer.accepted:
                    self.highest_accepted = self.seq
                self.answers.append(answer)
                time.sleep(PAUSE)


def _answer(sent: float, response: httpx.Response) -> Answer:
    answer = Answer(
        sent, time.monotonic() - sent, response.status_code, retry_after=response.headers.get("Retry-After")
    )
    if response.status_code != 200:
        try:
            answer.code = response.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            answer.code = response.text[:80]
    return answer


def probe(url: str, name: str, stop: threading.Event, answers: list[Answer]) -> None:
    """Another kind of request during the outage: a DRF view, a page, an origin hook (lean route)."""
    hook = json.dumps({"action": "on_play", "app": "live", "stream": "nobody", "param": "", "client_id": "p"})
    with httpx.Client(timeout=15) as client:
        while not stop.is_set():
            sent = time.monotonic()
            if name == "api":
                response = client.get(url + "/api/v1/streams")
            elif name == "page":
                response = client.get(url + "/")
            else:
                response = client.post(url + f"/hooks/srs?secret={HOOK_SECRET}", content=hook)
            answers.append(_answer(sent, response))
            time.sleep(0.2)


def manage(env: dict[str, str], *args: str) -> str:
    command = [sys.executable, str(settings.BASE_DIR / "manage.py"), *args]
    done = subprocess.run(command, env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


CREATE_NODES = f"""
from django.contrib.auth.models import User
from nodes import services
friend = User.objects.create_user("friend", "friend@example.com", "friend-pass-123")
for n in range({NODES}):
    _, token = services.create_enrollment_token(friend)
    node, key = services.register_node(token=token, name=f"n{{n}}", public_url=f"http://127.0.0.1:{{9000 + n}}")
    print("node", node.pk, key)
"""


def test_a_database_restart_fails_requests_fast_with_503_and_loses_no_accepted_beat(tmp_path: Path) -> None:
    with PrivatePostgres() as pg:
        env = {
            **os.environ,
            "DATABASE_URL": pg.create("streamr"),
            # The production settings (DEBUG off), on plain http on loopback.
            "DEBUG": "false",
            "INSECURE_HTTP": "true",
            "SECRET_KEY": "fault-test-" + "x" * 50,
            "HOOK_SECRET": HOOK_SECRET,
            "ALLOWED_HOSTS": "127.0.0.1",
            "NODE_ALLOW_PRIVATE_URLS": "true",
            "NODE_MAX_PER_USER": str(NODES),
            "HEARTBEAT_RATE_LIMIT": "100000",  # this test beats far faster than an agent
            "LOG_LEVEL": "WARNING",
        }
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        manage(env, "migrate", "--verbosity", "0")
        created = [line.split() for line in manage(env, "shell", "-c", CREATE_NODES).splitlines()]
        keys = {int(row[1]): row[2] for row in created if len(row) == 3 and row[0] == "node"}
        assert len(keys) == NODES, created
        port = free_port()
        command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "web", "--port", str(port), "--workers", "1"]
        log_path = tmp_path / "web.log"
        with log_path.open("wb") as log:
            web = subprocess.Popen(
                [*command, "--skip-collectstatic"], env=env, cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_for_port(port, timeout=30)
            outcome = restart_under_load(pg, f"http://127.0.0.1:{port}", keys)
        finally:
            stop_process(web)
            print(f"--- web ---\n{log_path.read_text(errors='replace')[-4000:]}")
        with psycopg.connect(pg.url("streamr"), autocommit=True) as db:
            counted = db.execute("SELECT coalesce(sum(heartbeats), 0) FROM nodes_nodeminute").fetchone()[0]  # type: ignore[index]
            last_seq = dict(db.execute("SELECT id, last_seq FROM nodes_node").fetchall())
    check(outcome, counted, last_seq, log_path.read_text(errors="replace"))


@dataclass
class Outcome:
    drivers: dict[int, Driver]
    probes: dict[str, list[Answer]]
    stopping: float  # when the shutdown began
    down: float  # when the server had stopped
    up: float  # when it accepted connections again


def restart_under_load(pg: PrivatePostgres, url: str, keys: dict[int, str]) -> Outcome:
    drivers = {pk: Driver(url, key) for pk, key in keys.items()}
    probes: dict[str, list[Answer]] = {"api": [], "page": [], "hook": []}
    stop = threading.Event()
    threads = [threading.Thread(target=driver.run, args=(stop,)) for driver in drivers.values()]
    threads += [threading.Thread(target=probe, args=(url, name, stop, probes[name])) for name in probes]
    for thread in threads:
        thread.start()
    try:
        time.sleep(3)  # steady beats first
        stopping = time.monotonic()
        pg.stop()
        down = time.monotonic()
        time.sleep(DOWN_FOR)
        pg.start()
        up = time.monotonic()
        deadline = up + 20
        while time.monotonic() < deadline and not all(
            any(a.status == 200 and a.sent >= up for a in d.answers) for d in drivers.values()
        ):
            time.sleep(0.1)
        time.sleep(3)  # steady beats again after the recovery
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    return Outcome(drivers, probes, stopping, down, up)


def check(outcome: Outcome, counted: int, last_seq: dict[int, int], web_log: str) -> None:
    beats = [a for d in outcome.drivers.values() for a in d.answers]
    everything = beats + [a for answers in outcome.probes.values() for a in answers]
    ok = sum(a.status == 200 for a in beats)
    accepted = sum(a.accepted for a in beats)
    refused = [a for a in beats if a.status != 200]
    # Answers to requests sent while the server was going down or down, until it was back.
    outage = [a for a in beats if outcome.stopping <= a.sent < outcome.up]
    failing = sorted(a.took for a in refused)
    back = [
        min((a.sent for a in d.answers if a.status == 200 and a.sent >= outcome.up), default=None)
        for d in outcome.drivers.values()
    ]
    print(
        f"beats sent {len(beats)}, 200 {ok} (accepted {accepted}), 503 {len(refused)}, counted {counted}; "
        f"503s took p50 {statistics.median(failing) if failing else 0:.2f} s, max {max(failing, default=0):.2f} s; "
        f"beats sent during the outage {len(outage)}; server down {outcome.up - outcome.down:.1f} s "
        f"(shutdown {outcome.down - outcome.stopping:.1f} s); 200 again "
        f"{max((b - outcome.up for b in back if b is not None), default=-1):.2f} s after it was back; "
        + "; ".join(f"{name}: {sorted({a.status for a in answers})}" for name, answers in outcome.probes.items())
    )
    for a in sorted(beats, key=lambda a: a.sent):
        if a.status != 200 or outcome.stopping - 0.5 <= a.sent <= outcome.up + 2:
            print(f"  beat sent at {a.sent - outcome.stopping:+.2f} s: {a.status} after {a.took:.2f} s")
    assert all(a.status in (200, 503) for a in beats), sorted({(a.status, a.code) for a in beats})
    assert all(a.code == "unavailable" and a.retry_after for a in refused), sorted({a.code for a in refused})
    assert refused, "no heartbeat saw the outage: the test did not test it"
    # The first requests may wait DB_POOL_TIMEOUT; once the outage is seen, DB_OUTAGE_TIMEOUT.
    assert max(a.took for a in everything) < settings.DB_POOL_TIMEOUT + 2, "a request hung while the database was down"
    assert statistics.median(failing) < settings.DB_OUTAGE_TIMEOUT + 1, "503s were not fast"
    assert None not in back and max(b - outcome.up for b in back if b is not None) < 10, "no recovery in 10 s"
    # Nothing accepted lost, nothing counted twice: the buckets hold exactly the beats answered
    # 200-accepted, and each node's last recorded sequence number is its last accepted one.
    assert counted == accepted == ok
    assert last_seq == {pk: d.highest_accepted for pk, d in outcome.drivers.items()}
    for name, answers in outcome.probes.items():  # the hook refuses an unknown stream (404): no 5xx but 503
        assert answers and all(a.status < 500 or a.status == 503 for a in answers), (name, {a.status for a in answers})
        assert all(a.retry_after for a in answers if a.status == 503), name
        assert any(a.status == 503 for a in answers), f"no {name} request saw the outage"
    assert all(a.code == "unavailable" for name in ("api", "hook") for a in outcome.probes[name] if a.status == 503)
    assert "Traceback" not in web_log


def test_an_outage_is_told_apart_from_a_statement_that_failed() -> None:
    refused_port = free_port()  # nothing listens there
    try:
        psycopg.connect(f"host=127.0.0.1 port={refused_port} connect_timeout=2")
    except psycopg.OperationalError as exc:
        refused = exc
    as_django = OperationalError(str(refused))
    as_django.__cause__ = refused
    assert unavailable(refused) and unavailable(as_django) and connection_lost(as_django)
    shutdown = psycopg.errors.AdminShutdown("terminating connection due to administrator command")
    assert unavailable(shutdown)
    for own in (psycopg.errors.DeadlockDetected("deadlock detected"), psycopg.errors.QueryCanceled("timeout")):
        assert not unavailable(own)
    missing = OperationalError("no such table: nodes_node")
    missing.__cause__ = sqlite3.OperationalError("no such table: nodes_node")
    assert not unavailable(missing)  # SQLite's: a bug (migrations not run), not an outage


def test_a_batch_cut_off_by_an_outage_answers_every_beat_503_at_once_never_200(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "_pools", list)  # this process's pool is not this test's to drain
    tries: list[int] = []

    def answer(items: list[int]) -> list[tuple[int, dict[str, object], dict[str, str]]]:
        tries.append(len(items))
        cut = psycopg.errors.AdminShutdown("terminating connection due to administrator command")
        raise OperationalError(str(cut)) from cut

    batcher: Batcher[int] = Batcher(answer)

    async def beat_together() -> list[tuple[int, dict[str, object], dict[str, str]]]:
        return list(await asyncio.gather(*(batcher.submit(n) for n in range(5))))

    answers = async_to_sync(beat_together)()
    assert {(status, body["error"]["code"], headers["Retry-After"]) for status, body, headers in answers} == {  # type: ignore[index]
        (503, "unavailable", str(DATABASE_RETRY_AFTER))
    }
    assert sum(tries) == 5  # each beat tried once: never again alone, waiting out the outage in turn
    database._connected()  # the outage this test made up is over
