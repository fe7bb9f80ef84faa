"""Shared set-up for benchmarks: Django on a throw-away test database, and latency tables."""

from __future__ import annotations

import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "streamrp2p_site.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # one log line per request would drown the figures

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment, teardown_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402


@contextmanager
def test_database() -> Iterator[str]:
    """Create the test database (SQLite file, or test_<name> on PostgreSQL) and drop it after."""
    setup_test_environment()
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)
        teardown_test_environment()  # `make bench` creates one after another


def database_url() -> str:
    """The PostgreSQL URL of the test database just created, for processes the bench starts."""
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def heartbeating_fleet(count: int) -> list[str]:
    """``count`` registered nodes and a live stream 'bench' for them to relay: their API keys."""
    from django.contrib.auth.models import User

    from core import tokens
    from nodes.models import Node
    from streams import services as stream_services
    from streams.models import Origin, Stream

    owner = User.objects.create_user("bench")
    _, key = stream_services.create_stream(owner=owner, slug="bench")
    api_keys = [f"nk_bench{n:06d}{uuid.uuid4().hex}" for n in range(count)]
    fleet = [
        Node(
            owner=owner,
            name=f"n{n}",
            public_url=f"http://n{n}.example:8090",
            api_key_hash=tokens.digest(k),
            api_key_hint=tokens.hint(k),
        )
        for n, k in enumerate(api_keys)
    ]
    Node.objects.bulk_create(fleet, batch_size=5000)
    stream_services.admit_publish(
        stream_services.PublishRequest(origin=Origin.SRS, app="live", slug="bench", key=key, client_id="c")
    )
    # Steady state: every node online and relaying the stream, as if it had been heartbeating all
    # along (a node's first beat in a while also asks for an assignment; that is not the hot path).
    now = timezone.now()
    Node.objects.filter(owner=owner).update(
        last_seen_at=now,
        stale_after=now + timedelta(hours=1),
        offline_after=now + timedelta(hours=1),
        assigned_stream=Stream.objects.get(slug="bench"),
        assigned_at=now,
    )
    return api_keys


def print_latencies(figures: dict[str, list[float]]) -> None:
    print(f"{'what':<16}{'count':>7}{'mean':>8}{'p50':>8}{'p95':>8}{'max':>8}   (ms)")
    for name, samples in figures.items():
        ordered = sorted(samples)
        p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
        print(
            f"{name:<16}{len(samples):>7}{statistics.fmean(samples):8.2f}{statistics.median(samples):8.2f}"
            f"{p95:8.2f}{ordered[-1]:8.2f}"
        )


@dataclass(frozen=True)
class Row:
    """One line of `make bench`'s table: a figure beside a ceiling measured in the same run on the
    same machine, and the issue's target. ``higher_is_better`` says which way the ratio reads."""

    what: str
    figure: float
    unit: str
    ceiling_what: str
    ceiling: float | None
    target: str = ""
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        if not self.ceiling or not self.figure:
            return None
        return self.figure / self.ceiling if self.higher_is_better else self.ceiling / self.figure


def number(value: float) -> str:
    """Three significant digits or whole numbers: 9,694 / 26.0 / 0.052."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value else "0"


def print_rows(rows: list[Row]) -> None:
    """The table as Markdown, ready for docs/BENCHMARKS.md."""
    print("| what | figure | ceiling (same run) | ratio | target |")
    print("|---|---|---|---|---|")
    for row in rows:
        ceiling = row.ceiling_what
        if row.ceiling is not None:
            ceiling = f"{number(row.ceiling)} {row.unit} ({row.ceiling_what})"
        ratio = f"{row.ratio:.0%}" if row.ratio is not None else "—"
        print(f"| {row.what} | {number(row.figure)} {row.unit} | {ceiling} | {ratio} | {row.target} |")


# --- wrk and the production web tier, shared by the HTTP benches ---------------------------------

# Appended to every wrk script: one machine-readable line per run.
WRK_DONE = r"""
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %f %f %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.errors.status, summary.errors.connect +
    summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


@dataclass(frozen=True)
class WrkRun:
    """One wrk run: requests/s, p50 and p99 in ms, non-2xx answers, socket errors and timeouts
    (wrk gives up on a request after 2 s)."""

    requests: int
    rate: float
    p50: float
    p99: float
    non_2xx: int
    socket_errors: int


def wrk(url: str, script: Path, connections: int, seconds: int, threads: int = 2) -> WrkRun:
    if shutil.which("wrk") is None:
        raise SystemExit("cannot run: wrk is missing (apt-get install wrk)")
    command = ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) (\d+) (\d+)", out)
    if match is None:
        raise SystemExit(f"wrk printed no result:\n{out}")
    requests, micros, p50, p99, status, sockets = match.groups()
    count = int(requests)
    return WrkRun(count, count / (int(micros) / 1e6), float(p50) / 1000, float(p99) / 1000, int(status), int(sockets))


@dataclass(frozen=True)
class WebTier:
    url: str  # http://127.0.0.1:<port>
    port: int
    pid: int  # the server's process (and process group: its workers are in it)
    log: Path  # its stderr


@contextmanager
def web_tier(workdir: Path, *args: str, **env: str) -> Iterator[WebTier]:
    """`manage.py web` (what `make web` runs: uvicorn, one process per core, DEBUG off; ``args``
    are more options, e.g. --skip-collectstatic) on a free port against the bench's test database
    and Redis. Every process of the server is gone when this returns."""
    from testkit.media import free_port, wait_for_port

    if settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1] != "postgresql" or not settings.REDIS_URL:
        raise SystemExit("run it as production runs: DATABASE_URL (PostgreSQL) and REDIS_URL")
    connection.close()  # the server must see everything created so far
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DEBUG": "false",
        "INSECURE_HTTP": "true",  # plain http on loopback: no redirect to https
        "SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "HOOK_SECRET": "bench-" + uuid.uuid4().hex,
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "STATIC_ROOT": str(workdir / "static"),
        **env,
    }
    root = Path(__file__).resolve().parent.parent
    log = workdir / "web.log"
    web = subprocess.Popen(
        [sys.executable, str(root / "manage.py"), "web", "--host", "127.0.0.1", "--port", str(port), *args],
        env=environment,
        cwd=root,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        deadline = time.monotonic() + 180  # collectstatic compresses every file first
        while True:
            if web.poll() is not None:
                raise SystemExit(f"`manage.py web` exited with {web.returncode}:\n{log.read_text()[-3000:]}")
            try:
                wait_for_port(port, timeout=1)
                break
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise
        time.sleep(1)  # the workers are up (the supervisor binds the port first)
        yield WebTier(f"http://127.0.0.1:{port}", port, web.pid, log)
    finally:
        try:
            os.killpg(web.pid, signal.SIGTERM)  # the server and its worker processes
            web.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(web.pid, signal.SIGKILL)
            web.wait(timeout=10)
        except ProcessLookupError:
            pass
        _gone(web.pid)
        connection.close()


def _gone(group: int) -> None:
    """No process of the server's group may outlive the bench (a uvicorn worker holding the port):
    the workers get 10 s to finish after their parent, then are killed."""
    deadline = time.monotonic() + 10
    while _group_alive(group):
        if time.monotonic() > deadline:
            os.killpg(group, signal.SIGKILL)
            time.sleep(0.5)
            if _group_alive(group):
                raise SystemExit(f"server processes left behind (process group {group})")
            return
        time.sleep(0.1)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
