"""Benchmark: the origin hooks through the production web tier, measured from outside with wrk.

The origin blocks the publisher while on_publish waits for us, calls on_hls once per HLS segment of
every live stream and on_play once per viewer. This starts `manage.py web` (uvicorn, 2 processes,
DEBUG off) on a throw-away PostgreSQL test database and Redis and drives `/hooks/srs` with wrk
(Debian's package), each request an SRS 5 callback body as SRS posts it (streams/tests/hook_clients.py):

- on_publish, CONNECTIONS_PUBLISH connections: every call is a first admission (the stream is not
  live, a client id never seen, the right key), so each one runs the whole path: row lock, key check,
  the late-copy check, session insert, alive minute, the stream_went_live receivers and the live
  push. SRS retries (same client id: answered with the live session, no insert) are rare in real
  life and left out; so are second publishers (refused 409). PUBLISH_STREAMS streams are published
  round robin, and a thread of this process ends the sessions it sees older than REAP_AFTER (as
  on_unpublish would; the unpublish hook is not what is measured), so a stream is offline again long
  before its next turn and about rate x REAP_AFTER publishes are live at any time.
- on_hls, CONNECTIONS_PERIODIC connections across LIVE_STREAMS live streams, each segment numbered.
- on_play, CONNECTIONS_PERIODIC connections, every call a new viewer (distinct client id) of one of
  the LIVE_STREAMS streams, half of them HLS players (``stream=<slug>.m3u8``) as SRS reports them.

Beside each figure, the ceiling of the same server with the same connections: a static file served
by WhiteNoise (no database; /healthz would query PostgreSQL and Redis). wrk is a closed loop: with
C connections busy, the mean latency is C / rate (Little's law), so the ceiling's p50 at 200
connections is the lowest p50 this box can show at that concurrency. Usage (needs PostgreSQL and
Redis, as production):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/hooks.py [SECONDS]
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from common import Row, database_url, print_rows, test_database
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from streams import keys, services
from streams.models import Origin, Stream, StreamSession, StreamViewer
from testkit.media import free_port, wait_for_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

THREADS = 2  # wrk threads
CONNECTIONS_PUBLISH = 200  # issue 16: "under 200 concurrent calls"
CONNECTIONS_PERIODIC = 50  # on_hls / on_play: about one call in flight per live stream
PUBLISH_STREAMS = 4000
LIVE_STREAMS = 50
REAP_AFTER = timedelta(milliseconds=100)
SERVER_ID = "vid-bench"

DONE = r"""
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %f %f %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.errors.status, summary.errors.connect +
    summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""

# Shared head of the hook scripts: each wrk thread takes every THREADS-th stream of the list.
HEAD = r"""
local streams = dofile("%(streams)s")
local tag = "%(tag)s"
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  mine = {}
  for i = 1 + id, #streams, %(threads)d do table.insert(mine, streams[i]) end
  at, n = 0, 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
local function srs(fields)
  return '{"server_id":"%(server_id)s","service_id":"bench","client_id":"' .. fields.client .. '","ip":"' ..
    fields.ip .. '","vhost":"__defaultVhost__","app":"live","tcUrl":"rtmp://origin.example:1935/live",' ..
    '"stream":"' .. fields.stream .. '","param":"' .. fields.param .. '","stream_url":"/live/' ..
    fields.slug .. '","stream_id":"vid-' .. id .. '",' .. fields.rest .. '}'
end
local path = "/hooks/srs?secret=%(secret)s"
"""

PUBLISH = r"""
function request()
  at = at %% #mine + 1
  n = n + 1
  local s = mine[at]
  local body = srs{client = tag .. id .. "-" .. n, ip = "192.0.2.10", stream = s[1], slug = s[1],
    param = "?key=" .. s[2], rest = '"action":"on_publish"'}
  return wrk.format(nil, path, nil, body)
end
"""

HLS = r"""
function request()
  at = at %% #mine + 1
  n = n + 1
  local s = mine[at]
  local seq = 1000 + n
  local rest = string.format('"action":"on_hls","duration":2.002,"cwd":"/usr/local/srs",' ..
    '"file":"./objs/nginx/html/live/%%s-%%d.ts","url":"live/%%s-%%d.ts","m3u8":"./objs/nginx/html/live/%%s.m3u8",' ..
    '"m3u8_url":"live/%%s.m3u8","seq_no":%%d', s[1], seq, s[1], seq, s[1], s[1], seq)
  local body = srs{client = s[3], ip = "192.0.2.10", stream = s[1], slug = s[1], param = "?key=" .. s[2],
    rest = rest}
  return wrk.format(nil, path, nil, body)
end
"""

PLAY = r"""
function request()
  at = at %% #mine + 1
  n = n + 1
  local s = mine[at]
  local name = s[1]
  if n %% 2 == 0 then name = name .. ".m3u8" end  -- an HLS player, as SRS 5 reports it
  local body = srs{client = tag .. id .. "-" .. n, ip = "198.51.100." .. (n %% 250 + 1), stream = name,
    slug = name, param = "", rest = '"action":"on_play","pageUrl":""'}
  return wrk.format(nil, path, nil, body)
end
"""


@dataclass(frozen=True)
class Run:
    """One wrk run: requests/s, p50 and p99 in ms, non-2xx answers, socket errors and timeouts."""

    requests: int
    rate: float
    p50: float
    p99: float
    non_2xx: int
    socket_errors: int

    def line(self, what: str, connections: int) -> str:
        return (
            f"{what:<22}{connections:>6}{self.requests:>9,}{self.rate:>10,.0f}{self.p50:>9.2f}{self.p99:>9.2f}"
            f"{self.non_2xx:>8}{self.socket_errors:>8}"
        )


@dataclass(frozen=True)
class Results:
    publish: Run
    hls: Run
    play: Run
    static_publish: Run  # the static file with the on_publish connections
    static_periodic: Run  # … and with the on_hls / on_play ones
    admitted: int  # sessions the publish run opened
    viewers: int  # viewers the play run counted
    signalled: int  # live sessions with a sign of life from the hls run


def wrk(url: str, script: Path, connections: int, seconds: int) -> Run:
    command = ["wrk", f"-t{min(THREADS, connections)}", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) (\d+) (\d+)", out)
    if match is None:
        raise SystemExit(f"wrk printed no result:\n{out}")
    requests, micros, p50, p99, status, socket = match.groups()
    return Run(
        int(requests),
        int(requests) / (int(micros) / 1e6),
        float(p50) / 1000,
        float(p99) / 1000,
        int(status),
        int(socket),
    )


def _lua_table(rows: list[tuple[str, ...]]) -> str:
    return "return {" + ",".join("{" + ",".join(f'"{v}"' for v in row) + "}" for row in rows) + "}\n"


def _streams(owner: User, prefix: str, count: int) -> list[tuple[Stream, str]]:
    """``count`` streams with their keys, created in bulk (create_stream's fields, without its checks)."""
    made: list[tuple[Stream, str]] = []
    now = timezone.now()
    for n in range(count):
        key = keys.new_key()
        slug = f"{prefix}{n:05d}"
        stream = Stream(
            owner=owner,
            slug=slug,
            title=slug,
            key_hash=keys.hash_key(key),
            key_hint=keys.key_hint(key),
            key_rotated_at=now,
        )
        made.append((stream, key))
    Stream.objects.bulk_create([s for s, _ in made], batch_size=2000)
    return made


class Reaper(threading.Thread):
    """Ends the publish run's sessions older than REAP_AFTER (what their on_unpublish would do)."""

    def __init__(self, first: int, last: int) -> None:
        super().__init__(daemon=True)
        self.first, self.last = first, last
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.wait(0.05):
                now = timezone.now()
                StreamSession.objects.filter(
                    stream_id__gte=self.first,
                    stream_id__lte=self.last,
                    ended_at__isnull=True,
                    started_at__lt=now - REAP_AFTER,
                ).update(ended_at=now, end_reason="unpublish")
        finally:
            connection.close()


def measure(seconds: int) -> Results:
    if shutil.which("wrk") is None:
        raise SystemExit("cannot run: wrk is missing (apt-get install wrk)")
    with test_database() as engine, tempfile.TemporaryDirectory() as tmp:
        if engine != "postgresql" or not settings.REDIS_URL:
            raise SystemExit("run it as production runs: DATABASE_URL (PostgreSQL) and REDIS_URL")
        owner = User.objects.create_user("bench")
        publishing = _streams(owner, "pub", PUBLISH_STREAMS)
        first, last = publishing[0][0].pk, publishing[-1][0].pk
        live = _streams(owner, "live", LIVE_STREAMS)
        for n, (stream, key) in enumerate(live):
            services.admit_publish(
                services.PublishRequest(
                    origin=Origin.SRS, app="live", slug=stream.slug, key=key, client_id=f"c{n}", server_id=SERVER_ID
                )
            )
        connection.close()

        work = Path(tmp)
        (work / "publishing.lua").write_text(_lua_table([(s.slug, k) for s, k in publishing]))
        (work / "live.lua").write_text(_lua_table([(s.slug, k, f"c{n}") for n, (s, k) in enumerate(live)]))
        secret = "bench-" + uuid.uuid4().hex

        def script(name: str, body: str, streams: str) -> Path:
            # A tag per script: client ids of one run never repeat those of another (SRS's are unique).
            fields = {"streams": work / streams, "tag": name[0] + uuid.uuid4().hex[:8], "threads": THREADS}
            path = work / f"{name}.lua"
            path.write_text(HEAD % {**fields, "server_id": SERVER_ID, "secret": secret} + body % {} + DONE)
            return path

        plain = work / "plain.lua"
        plain.write_text(DONE)
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "DEBUG": "false",
            "SECRET_KEY": "bench-" + uuid.uuid4().hex,
            "HOOK_SECRET": secret,
            "ALLOWED_HOSTS": "127.0.0.1",
            "LOG_LEVEL": "INFO",  # production's: one line per admitted publish
            "STATIC_ROOT": str(work / "static"),
            "WEB_WORKERS": "2",
        }
        web = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "web", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=(work / "web.log").open("wb"),
        )
        reaper = Reaper(first, last)
        try:
            wait_for_port(port, timeout=60)
            base = f"http://127.0.0.1:{port}"
            static = f"{base}/static/js/live.js"
            warm = max(1, min(2, seconds // 5))
            reaper.start()
            wrk(base, script("warm", PUBLISH, "publishing.lua"), 8, warm)  # every process: connections, code paths
            wrk(static, plain, CONNECTIONS_PUBLISH, warm)

            since = timezone.now()
            publish = wrk(base, script("publish", PUBLISH, "publishing.lua"), CONNECTIONS_PUBLISH, seconds)
            admitted = StreamSession.objects.filter(
                stream_id__gte=first, stream_id__lte=last, started_at__gte=since
            ).count()
            static_publish = wrk(static, plain, CONNECTIONS_PUBLISH, max(3, seconds // 2))

            since = timezone.now()
            hls = wrk(base, script("hls", HLS, "live.lua"), CONNECTIONS_PERIODIC, seconds)
            signalled = StreamSession.objects.filter(
                stream_id__gt=last, ended_at__isnull=True, last_signal_at__gte=since
            ).count()
            play = wrk(base, script("play", PLAY, "live.lua"), CONNECTIONS_PERIODIC, seconds)
            viewers = StreamViewer.objects.filter(started_at__gte=since).count()
            static_periodic = wrk(static, plain, CONNECTIONS_PERIODIC, max(3, seconds // 2))
        finally:
            reaper.stopping.set()
            os.killpg(web.pid, signal.SIGTERM)  # the server and its worker processes
            try:
                web.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(web.pid, signal.SIGKILL)
                web.wait(timeout=10)
            if reaper.is_alive():
                reaper.join(timeout=5)
            connection.close()
        _check_stopped(web.pid)
    return Results(publish, hls, play, static_publish, static_periodic, admitted, viewers, signalled)


def _check_stopped(group: int) -> None:
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


def rows_of(results: Results) -> list[Row]:
    ceiling_publish = f"static file, {CONNECTIONS_PUBLISH} conns"
    ceiling_periodic = f"static file, {CONNECTIONS_PERIODIC} conns"
    publish, static = results.publish, results.static_publish
    return [
        Row(
            f"on_publish p50, {CONNECTIONS_PUBLISH} conns",
            publish.p50,
            "ms",
            ceiling_publish,
            static.p50,
            "<= 5 ms",
            False,
        ),
        Row(
            f"on_publish p99, {CONNECTIONS_PUBLISH} conns",
            publish.p99,
            "ms",
            ceiling_publish,
            static.p99,
            "<= 20 ms",
            False,
        ),
        Row(f"on_publish rate, {CONNECTIONS_PUBLISH} conns", publish.rate, "/s", ceiling_publish, static.rate),
        Row(
            f"on_hls rate, {LIVE_STREAMS} streams",
            results.hls.rate,
            "/s",
            ceiling_periodic,
            results.static_periodic.rate,
            ">= 2,000/s",
        ),
        Row(
            "on_play rate, new viewers",
            results.play.rate,
            "/s",
            ceiling_periodic,
            results.static_periodic.rate,
            ">= 2,000/s",
        ),
    ]


def rows(seconds: int = 8) -> list[Row]:
    return rows_of(measure(seconds))


def main(seconds: int) -> None:
    results = measure(seconds)
    print(f"origin hooks through `manage.py web` (2 processes), PostgreSQL + Redis, wrk on this box, {seconds} s runs")
    print(f"{'what':<22}{'conns':>6}{'requests':>9}{'rate/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>8}{'socket':>8}")
    print(results.publish.line("on_publish", CONNECTIONS_PUBLISH))
    print(results.static_publish.line("static file", CONNECTIONS_PUBLISH))
    print(results.hls.line(f"on_hls ({LIVE_STREAMS} streams)", CONNECTIONS_PERIODIC))
    print(results.play.line("on_play (new viewers)", CONNECTIONS_PERIODIC))
    print(results.static_periodic.line("static file", CONNECTIONS_PERIODIC))
    print(
        f"checked in the database: {results.admitted:,} sessions opened by on_publish, {results.signalled} of "
        f"{LIVE_STREAMS} live sessions signalled by on_hls, {results.viewers:,} viewers counted by on_play"
    )
    print()
    print_rows(rows_of(results))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
