"""`make run` without Redis: a push made in the django-q2 worker process reaches a page open on the
web process within 2 s (core/live_outbox.py relays it through the database)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from websockets.sync.client import connect

from testkit.media import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]

SIGN_IN = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
user = User.objects.create_user("watcher", password="watcher-pass-123")
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(user.pk, session.session_key)
"""

# A real django-q2 job: the worker process pushes a verdict stamped when it pushes (live_jobs.py).
QUEUE_PUSH = """
from django_q.tasks import async_task
async_task("streamrp2p_site.tests.live_jobs.push_verdict", {user}, {n})
print("queued", flush=True)
"""


@contextlib.contextmanager
def serving(tmp_path: Path) -> Iterator[tuple[list[str], dict[str, str], int]]:
    """`manage.py serve` as `make run` starts it without Redis, on its own SQLite file; stopped with
    Ctrl-C as a person would (serve stops daphne and the qcluster), its whole group killed after."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'live.sqlite3'}", "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, check=True, capture_output=True, timeout=180)
    port = free_port()
    serve = subprocess.Popen(
        [*manage, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, timeout=90)
        yield manage, env, port
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=40)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()


def receive_kind(socket, kind: str, timeout: float) -> tuple[dict, float]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        message = json.loads(socket.recv(timeout=left))
        if message["kind"] == kind:
            return message, time.monotonic()
    raise TimeoutError(f"no {kind} within {timeout} s")


@pytest.mark.timeout(400)
def test_a_push_from_the_worker_reaches_an_open_page_within_two_seconds(tmp_path):
    with serving(tmp_path) as (manage, env, port):
        assert "REDIS_URL" not in env
        signed_in = subprocess.run(
            [*manage, "shell", "-c", SIGN_IN], env=env, check=True, capture_output=True, text=True, timeout=60
        )
        user_id, session_key = signed_in.stdout.strip().splitlines()[-1].split()
        with connect(
            f"ws://127.0.0.1:{port}/ws/live",
            additional_headers={"Cookie": f"sessionid={session_key}", "Origin": f"http://127.0.0.1:{port}"},
            ping_interval=None,  # as a browser: no client pings to time out on a loaded machine
        ) as socket:
            assert receive_kind(socket, "hello", 5)[0]["data"]["user"] == "watcher"
            latencies, queued_for = [], []
            for n in range(3):
                # `manage.py shell` takes a second or more to start: time from the job's enqueueing,
                # which the script prints last, not from launching it.
                queued = subprocess.Popen(
                    [*manage, "shell", "-c", QUEUE_PUSH.format(user=user_id, n=n)],
                    env=env,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                assert queued.stdout is not None
                for line in queued.stdout:  # after any log lines
                    if line.strip() == "queued":
                        break
                else:
                    raise AssertionError("the job was not queued")
                enqueued_at = time.monotonic()
                # Received before waiting for the shell to exit: the socket is read as it arrives.
                message, arrived_at = receive_kind(socket, "spotcheck.verdict", 60)
                arrived_wall = time.time()
                queued.wait(timeout=30)
                assert message["data"]["detail"] == f"from the worker {n}"
                pushed = datetime.fromisoformat(message["data"]["checked_at"]).timestamp()
                latencies.append(arrived_wall - pushed)
                queued_for.append(arrived_at - enqueued_at)
            print("push in the worker -> page (s):", [round(v, 3) for v in latencies])
            print("enqueue -> page, with the worker's queue (s):", [round(v, 3) for v in queued_for])
            assert max(latencies) < 2.0
