"""Benchmark: heartbeats through the production web tier, measured from outside with wrk.

Registers NODES nodes relaying one live stream on a throw-away PostgreSQL test database, starts
`manage.py web` (the production web tier, DEBUG off) against it and Redis, and drives it with wrk
(Debian's package) from the same machine: every request is one node's next heartbeat in the README's
schema, NODES distinct keys with increasing sequence numbers. Beside each figure, the ceiling of the
same server, route and connections answering without work (a body that is not JSON, refused
before the batcher, the rate limit or the database). Prints one row per connection
count, then how many accepted heartbeats reached the minute buckets. Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/web_heartbeats.py [NODES] [SECONDS] [CONNECTIONS...]
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from common import WRK_DONE, Row, WrkRun, heartbeating_fleet, print_rows, test_database, web_tier, wrk
from django.db.models import Sum

from nodes.fastpath import PATH
from nodes.models import NodeMinute

# Each wrk thread owns every other node, so each node's sequence numbers only ever rise.
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
"""

# The ceiling: the same server, route and connections answering without any work (a body that is
# not JSON is refused by the lean route before the batcher, the rate limit or the database).
TRIVIAL = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain"
wrk.body = "x"
"""


@dataclass(frozen=True)
class Line:
    connections: int
    beats: WrkRun
    ceiling: WrkRun


@dataclass(frozen=True)
class Results:
    nodes: int
    lines: list[Line]
    counted: int  # heartbeats in the minute buckets after the runs
    accepted: int  # heartbeats answered 200 (all accepted: sequence numbers only rise)


def measure(count: int, seconds: int, connection_counts: list[int]) -> Results:
    with test_database(), tempfile.TemporaryDirectory() as tmp:
        api_keys = heartbeating_fleet(count)
        work = Path(tmp)
        (work / "keys.lua").write_text("return {" + ",".join(f'"{k}"' for k in api_keys) + "}\n")
        beats = work / "beats.lua"
        fields = {"keys": work / "keys.lua", "session": uuid.uuid4().hex, "threads": 2, "epoch": int(time.time())}
        beats.write_text(LUA % fields + WRK_DONE)
        trivial = work / "trivial.lua"
        trivial.write_text(TRIVIAL + WRK_DONE)
        # Measure the path, not the limiter's refusals.
        with web_tier(work, HEARTBEAT_RATE_LIMIT="1000000") as site:
            base = site.url
            wrk(base, beats, 4, 3)  # warm-up: every process has connections, every node a first beat
            before = NodeMinute.objects.aggregate(n=Sum("heartbeats"))["n"] or 0
            lines, accepted = [], 0
            for conns in connection_counts:
                run = wrk(base, beats, conns, seconds)
                accepted += run.requests - run.non_2xx - run.socket_errors
                lines.append(Line(conns, run, wrk(base + PATH, trivial, conns, max(3, seconds // 3))))
            time.sleep(1)
            counted = (NodeMinute.objects.aggregate(n=Sum("heartbeats"))["n"] or 0) - before
    return Results(count, lines, counted, accepted)


def rows_of(results: Results) -> list[Row]:
    made = []
    for line in results.lines:
        where = f"{results.nodes:,} nodes, {line.connections} conns"
        ceiling = f"same route answering without work, {line.connections} conns"
        made.append(Row(f"heartbeats/s, {where}", line.beats.rate, "/s", ceiling, line.ceiling.rate, ">= 3,000/s"))
        made.append(
            Row(f"heartbeat p99, {where}", line.beats.p99, "ms", ceiling, line.ceiling.p99, "<= 50 ms at 64", False)
        )
    return made


def rows(count: int = 10_000, seconds: int = 10) -> list[Row]:
    return rows_of(measure(count, seconds, [64]))


def main(count: int, seconds: int, connection_counts: list[int]) -> None:
    results = measure(count, seconds, connection_counts)
    print(f"heartbeats from {count:,} nodes through `manage.py web`, PostgreSQL + Redis, wrk on this box")
    print(
        f"{'conns':>6}{'beats/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>8}{'timeouts':>9}"
        f"   {'ceiling/s':>10}{'p99 ms':>8}{'ratio':>7}"
    )
    for line in results.lines:
        b, c = line.beats, line.ceiling
        row = f"{line.connections:>6}{b.rate:>10,.0f}{b.p50:>9.1f}{b.p99:>9.1f}{b.non_2xx:>8}{b.socket_errors:>9}"
        print(f"{row}   {c.rate:>10,.0f}{c.p99:>8.1f}{b.rate / c.rate:>7.0%}")
    print(f"minute buckets: {results.counted:,} heartbeats counted, {results.accepted:,} answered 200 by wrk's count")
    print()
    print_rows(rows_of(results))


if __name__ == "__main__":
    numbers = [int(a) for a in sys.argv[1:]]
    main(
        numbers[0] if numbers else 10_000,
        numbers[1] if len(numbers) > 1 else 10,
        numbers[2:] or [1, 4, 16, 64],
    )
