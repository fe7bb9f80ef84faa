"""Benchmark: heartbeats through the production web tier, measured from outside with wrk.

Registers NODES nodes relaying one live stream on a throw-away PostgreSQL test database, starts
`manage.py web` (the production web tier, DEBUG off) against it and Redis, and drives it with wrk
(Debian's package) from the same machine: every request is one node's next heartbeat in the README's
schema, NODES distinct keys with increasing sequence numbers. Beside each figure, the ceiling of the
same server and connections: a static file (WhiteNoise, no database). Prints one row per connection
count, then how many accepted heartbeats reached the minute buckets. Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/web_heartbeats.py [NODES] [SECONDS] [CONNECTIONS...]
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from common import database_url, heartbeating_fleet, test_database
from django.conf import settings
from django.db import connection
from django.db.models import Sum

from nodes.models import NodeMinute
from testkit.media import free_port, wait_for_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# Each wrk thread owns every THREADS-th node, so each node's sequence numbers only ever rise.
LUA = r"""
local keys = dofile("%(keys)s")
local session = "%(session)s"
local counter, threads, index = 0, {}, 0
function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end
function init(args)
  seq = {}
  base = os.time() * 100  -- every run starts above the last: a node's sequence numbers only rise
  mine = {}
  for i = 1 + id, #keys, %(threads)d do table.insert(mine, i) end
  at = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  at = at %% #mine + 1
  local n = mine[at]
  seq[n] = (seq[n] or base) + 1
  wrk.headers["Authorization"] = "Bearer " .. keys[n]
  local body = string.format(
    '{"seq":%%d,"agent_session":"%%s","session_started_at":"2026-01-01T00:00:00Z","stream":"bench",' ..
    '"counters":{"bytes_served":%%d,"segments_served":%%d,"http_requests":%%d},"viewers":%%d,' ..
    '"relay":{"ffmpeg_running":true,"newest_segment_age":0.8},"agent_version":"bench",' ..
    '"public_url":"http://n%%d.example:8090"}',
    seq[n], session, (os.time() - %(epoch)d) * 100000, os.time() - %(epoch)d, os.time() - %(epoch)d, n %% 7, n - 1)
  return wrk.format(nil, "/api/v1/nodes/heartbeat", nil, body)
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%f %%f %%d %%d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.errors.status, summary.errors.connect +
    summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""

PLAIN = r"""
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %f %f %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.errors.status, summary.errors.connect +
    summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""

THREADS = 2


def wrk(url: str, script: Path, connections: int, seconds: int) -> tuple[float, float, float, int, int]:
    """(requests/s, p50 ms, p99 ms, HTTP errors, socket errors and timeouts) of one wrk run (wrk gives
    up on a request after 2 s)."""
    threads = min(THREADS, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url]
    out = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) (\d+) (\d+)", out)
    if match is None:
        raise SystemExit(f"wrk printed no result:\n{out}")
    requests, micros, p50, p99, status, socket = match.groups()
    return int(requests) / (int(micros) / 1e6), float(p50) / 1000, float(p99) / 1000, int(status), int(socket)


def main(count: int, seconds: int, connection_counts: list[int]) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("cannot run: wrk is missing (apt-get install wrk)")
    with test_database() as engine, tempfile.TemporaryDirectory() as tmp:
        if engine != "postgresql" or not settings.REDIS_URL:
            raise SystemExit("run it as production runs: DATABASE_URL (PostgreSQL) and REDIS_URL")
        api_keys = heartbeating_fleet(count)
        connection.close()
        work = Path(tmp)
        (work / "keys.lua").write_text("return {" + ",".join(f'"{k}"' for k in api_keys) + "}\n")
        beats = work / "beats.lua"
        beats.write_text(
            LUA
            % {"keys": work / "keys.lua", "session": uuid.uuid4().hex, "threads": THREADS, "epoch": int(time.time())}
        )
        plain = work / "plain.lua"
        plain.write_text(PLAIN)

        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "DEBUG": "false",
            "SECRET_KEY": "bench-" + uuid.uuid4().hex,
            "HOOK_SECRET": "bench-" + uuid.uuid4().hex,
            "ALLOWED_HOSTS": "127.0.0.1",
            "HEARTBEAT_RATE_LIMIT": "1000000",  # measure the path, not the limiter's refusals
            "LOG_LEVEL": "WARNING",
            "STATIC_ROOT": str(work / "static"),
        }
        web = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "web", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=(work / "web.log").open("wb"),
        )
        try:
            wait_for_port(port, timeout=180)  # collectstatic compresses every file first
            base = f"http://127.0.0.1:{port}"
            wrk(base, beats, 4, 3)  # warm-up: every process has connections, every node a first beat
            static = f"{base}/static/js/live.js"
            print(f"heartbeats from {count:,} nodes through `manage.py web`, PostgreSQL + Redis, wrk on this box")
            print(
                f"{'conns':>6}{'beats/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>8}{'timeouts':>9}"
                f"   {'ceiling/s':>10}{'ratio':>7}"
            )
            before = NodeMinute.objects.aggregate(n=Sum("heartbeats"))["n"] or 0
            sent = 0.0
            for conns in connection_counts:
                rate, p50, p99, errors, timeouts = wrk(base, beats, conns, seconds)
                sent += rate * seconds
                ceiling, *_ = wrk(static, plain, conns, max(3, seconds // 3))
                row = f"{conns:>6}{rate:>10,.0f}{p50:>9.1f}{p99:>9.1f}{errors:>8}{timeouts:>9}"
                print(f"{row}   {ceiling:>10,.0f}{rate / ceiling:>7.0%}")
            time.sleep(2)
            after = NodeMinute.objects.aggregate(n=Sum("heartbeats"))["n"] or 0
            print(f"minute buckets: {after - before:,} heartbeats counted of about {sent:,.0f} sent")
        finally:
            os.killpg(web.pid, signal.SIGTERM)  # the server and its worker processes
            web.wait(timeout=20)
            connection.close()


if __name__ == "__main__":
    numbers = [int(a) for a in sys.argv[1:]]
    main(
        numbers[0] if numbers else 10_000,
        numbers[1] if len(numbers) > 1 else 10,
        numbers[2:] or [1, 4, 16, 64],
    )
