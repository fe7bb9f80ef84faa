"""`manage.py serve` (make run): ASGI site and django-q2 worker together; Ctrl-C stops them all."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from testkit.media import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def descendants(pid: int) -> set[int]:
    table = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True, check=True).stdout
    children: dict[int, list[int]] = {}
    for line in table.splitlines():
        child, parent = (int(v) for v in line.split())
        children.setdefault(parent, []).append(child)
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


@contextmanager
def serving(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], list[str], dict[str, str], int]]:
    """`manage.py serve` on a fresh SQLite database, up with its worker: (process, manage, env, port)."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}", "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, check=True, capture_output=True, timeout=120)
    port = free_port()
    serve = subprocess.Popen([*manage, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=30)
        deadline = time.monotonic() + 20
        while len(descendants(serve.pid)) < 3 and time.monotonic() < deadline:  # daphne, qcluster + workers
            time.sleep(0.5)
        yield serve, manage, env, port
    finally:
        if serve.poll() is None:  # the test failed before stopping it: nothing may outlive the test
            family = descendants(serve.pid)
            serve.send_signal(signal.SIGINT)
            try:
                serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait()
            for pid in family:  # a KILLed serve orphans daphne and the cluster: reap them too
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def test_serves_the_site_with_a_worker_and_sigint_leaves_no_process_behind(tmp_path):
    with serving(tmp_path) as (serve, manage, env, port):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/streams", timeout=5) as response:
            assert response.status == 200
        # A job still running at Ctrl-C (the origin sampler runs ~50 s) must not keep workers alive.
        job = "from django_q.tasks import async_task; async_task('validation.tasks.sample_origins')"
        subprocess.run([*manage, "shell", "-c", job], env=env, check=True, capture_output=True, timeout=60)
        time.sleep(4)  # the worker picks it up
        family = descendants(serve.pid)
        assert len(family) >= 3
        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=40) == 0
        left = [pid for pid in family if alive(pid)]
        assert left == [], f"processes left behind: {left}"


def test_an_idle_site_stops_in_seconds_not_at_the_kill_deadline(tmp_path):
    """SIGTERM reaches the cluster itself, never its sentinel too (that once hung the cluster until
    the 20 s deadline killed everything)."""
    with serving(tmp_path) as (serve, _, _, _):
        family = descendants(serve.pid)
        time.sleep(3)  # the cluster has started its workers and sentinel
        started = time.monotonic()
        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=40) == 0
        assert time.monotonic() - started < 15
        assert [pid for pid in family if alive(pid)] == []
