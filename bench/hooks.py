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

on_publish is measured twice: paced (each of the CONNECTIONS_PUBLISH callers waits 0-2 s between
calls, so the latency is the hook's own time) and flat out (wrk's closed loop: with C connections
busy, the mean latency is C / rate by Little's law, so it measures capacity, not latency).

Beside each figure, the ceiling of the same server with the same connections and pace: the same
route answering without work (a wrong secret, refused before the body is read into a service or
the database is asked). Usage (needs PostgreSQL and
Redis, as production):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/hooks.py [SECONDS]
"""

from __future__ import annotations

import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from common import WRK_DONE, Row, WrkRun, print_rows, test_database, web_tier, wrk
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from streams import keys, services
from streams.models import Origin, Stream, StreamSession, StreamViewer

CONNECTIONS_PUBLISH = 200  # issue 16: "under 200 concurrent calls"
CONNECTIONS_PERIODIC = 50  # on_hls / on_play: about one call in flight per live stream
PUBLISH_STREAMS = 4000
LIVE_STREAMS = 50
REAP_AFTER = timedelta(milliseconds=100)
SERVER_ID = "vid-bench"
PACE_MS = 1000  # the paced run: each caller waits 0-2 s (mean 1 s) between calls

# The ceiling: the same route answering without work (a wrong secret is refused before the body
# is parsed or the database asked).
TRIVIAL = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.path = "/hooks/srs?secret=wrong"
wrk.body = "{}"
"""

# An open-ish loop: each connection is one caller waiting between calls, so latency is the hook's
# own time, not the queue a closed loop of 200 busy connections builds (Little's law).
PACED = r"""
function delay()
  return math.random(0, 2 * %(pace)d)
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


def line(run: WrkRun, what: str, connections: int) -> str:
    return (
        f"{what:<26}{connections:>6}{run.requests:>9,}{run.rate:>10,.0f}{run.p50:>9.2f}{run.p99:>9.2f}"
        f"{run.non_2xx:>8}{run.socket_errors:>8}"
    )


@dataclass(frozen=True)
class Results:
    paced: WrkRun  # on_publish, CONNECTIONS_PUBLISH callers each waiting PACE between calls
    paced_ceiling: WrkRun  # the trivial answer, same callers and pace
    publish: WrkRun  # on_publish as fast as the callers can go
    hls: WrkRun
    play: WrkRun
    ceiling_publish: WrkRun  # the trivial answer with the on_publish connections, flat out
    ceiling_periodic: WrkRun  # … and with the on_hls / on_play ones
    admitted: int  # sessions the publish runs opened
    viewers: int  # viewers the play run counted
    signalled: int  # live sessions with a sign of life from the hls run


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
    with test_database(), tempfile.TemporaryDirectory() as tmp:
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
        work = Path(tmp)
        (work / "publishing.lua").write_text(_lua_table([(s.slug, k) for s, k in publishing]))
        (work / "live.lua").write_text(_lua_table([(s.slug, k, f"c{n}") for n, (s, k) in enumerate(live)]))
        secret = "bench-" + uuid.uuid4().hex

        def script(name: str, body: str, streams: str, paced: bool = False) -> Path:
            # A tag per script: client ids of one run never repeat those of another (SRS's are unique).
            fields = {"streams": work / streams, "tag": name[0] + uuid.uuid4().hex[:8], "threads": 2}
            path = work / f"{name}.lua"
            head = HEAD % {**fields, "server_id": SERVER_ID, "secret": secret}
            path.write_text(head + body % {} + (PACED % {"pace": PACE_MS} if paced else "") + WRK_DONE)
            return path

        def trivial(paced: bool = False) -> Path:
            path = work / f"trivial{'-paced' if paced else ''}.lua"
            path.write_text(TRIVIAL + (PACED % {"pace": PACE_MS} if paced else "") + WRK_DONE)
            return path

        reaper = Reaper(first, last)
        # LOG_LEVEL INFO as production: one line per admitted publish.
        with web_tier(work, HOOK_SECRET=secret, LOG_LEVEL="INFO") as site:
            base = site.url
            try:
                warm = max(1, min(2, seconds // 5))
                reaper.start()
                wrk(base, script("warm", PUBLISH, "publishing.lua"), 8, warm)  # every process: connections, paths
                since = timezone.now()
                paced = wrk(base, script("paced", PUBLISH, "publishing.lua", True), CONNECTIONS_PUBLISH, seconds)
                paced_ceiling = wrk(base, trivial(True), CONNECTIONS_PUBLISH, max(3, seconds // 2))
                publish = wrk(base, script("publish", PUBLISH, "publishing.lua"), CONNECTIONS_PUBLISH, seconds)
                admitted = StreamSession.objects.filter(
                    stream_id__gte=first, stream_id__lte=last, started_at__gte=since
                ).count()
                ceiling_publish = wrk(base, trivial(), CONNECTIONS_PUBLISH, max(3, seconds // 2))

                since = timezone.now()
                hls = wrk(base, script("hls", HLS, "live.lua"), CONNECTIONS_PERIODIC, seconds)
                signalled = StreamSession.objects.filter(
                    stream_id__gt=last, ended_at__isnull=True, last_signal_at__gte=since
                ).count()
                play = wrk(base, script("play", PLAY, "live.lua"), CONNECTIONS_PERIODIC, seconds)
                viewers = StreamViewer.objects.filter(started_at__gte=since).count()
                ceiling_periodic = wrk(base, trivial(), CONNECTIONS_PERIODIC, max(3, seconds // 2))
            finally:
                reaper.stopping.set()
                if reaper.is_alive():
                    reaper.join(timeout=5)
    return Results(
        paced, paced_ceiling, publish, hls, play, ceiling_publish, ceiling_periodic, admitted, viewers, signalled
    )


def rows_of(results: Results) -> list[Row]:
    callers = f"{CONNECTIONS_PUBLISH} callers, {PACE_MS / 1000:.0f} s apart"
    trivial_paced = f"trivial answer, {callers}"
    flat_out = f"trivial answer, {CONNECTIONS_PUBLISH} conns"
    periodic = f"trivial answer, {CONNECTIONS_PERIODIC} conns"
    paced, ceiling = results.paced, results.paced_ceiling
    return [
        Row(f"on_publish p50, {callers}", paced.p50, "ms", trivial_paced, ceiling.p50, "<= 5 ms", False),
        Row(f"on_publish p99, {callers}", paced.p99, "ms", trivial_paced, ceiling.p99, "<= 20 ms", False),
        Row(
            f"on_publish/s, {CONNECTIONS_PUBLISH} conns flat out",
            results.publish.rate,
            "/s",
            flat_out,
            results.ceiling_publish.rate,
        ),
        Row(
            f"on_hls/s, {LIVE_STREAMS} streams",
            results.hls.rate,
            "/s",
            periodic,
            results.ceiling_periodic.rate,
            ">= 2,000/s",
        ),
        Row("on_play/s, new viewers", results.play.rate, "/s", periodic, results.ceiling_periodic.rate, ">= 2,000/s"),
    ]


def rows(seconds: int = 8) -> list[Row]:
    return rows_of(measure(seconds))


def main(seconds: int) -> None:
    results = measure(seconds)
    print(f"origin hooks through `manage.py web` (2 processes), PostgreSQL + Redis, wrk on this box, {seconds} s runs")
    print(f"{'what':<26}{'conns':>6}{'requests':>9}{'rate/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>8}{'socket':>8}")
    print(line(results.paced, "on_publish, paced", CONNECTIONS_PUBLISH))
    print(line(results.paced_ceiling, "trivial answer, paced", CONNECTIONS_PUBLISH))
    print(line(results.publish, "on_publish, flat out", CONNECTIONS_PUBLISH))
    print(line(results.ceiling_publish, "trivial answer, flat out", CONNECTIONS_PUBLISH))
    print(line(results.hls, f"on_hls ({LIVE_STREAMS} streams)", CONNECTIONS_PERIODIC))
    print(line(results.play, "on_play (new viewers)", CONNECTIONS_PERIODIC))
    print(line(results.ceiling_periodic, "trivial answer", CONNECTIONS_PERIODIC))
    print(
        f"checked in the database: {results.admitted:,} sessions opened by on_publish, {results.signalled} of "
        f"{LIVE_STREAMS} live sessions signalled by on_hls, {results.viewers:,} viewers counted by on_play"
    )
    print("(the trivial answer: the same route refusing a wrong secret, no database work; non-2xx by design)")
    print()
    print_rows(rows_of(results))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
