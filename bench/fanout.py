"""Benchmark: websocket fan-out to open dashboards (issue 16: 2,000 connected dashboards,
heartbeat-to-screen p99 <= 300 ms).

On a throw-away PostgreSQL test database: DASHBOARDS friends, each with one node and a signed-in
session (made with Django's session store and auth hash, as a login would). Starts `manage.py web`
(uvicorn, 2 worker processes, DEBUG off) against it and Redis, opens one `/ws/live` socket per
friend with its session cookie (the page's keep-alive ping every 25 s included), then:

- heartbeats: every node beats over HTTP once every INTERVAL s (2,000 nodes = 200 beats/s); for each
  accepted beat, the time from sending it to its owner's socket receiving the matching
  ``node.heartbeat`` event. A warm-up pass (each node's first beat, a new agent session) is
  reported apart; the figure is the steady state after it.
- the ceiling, same server and sockets: a message sent straight to each user's group with the
  channel layer's ``group_send`` from this process at the same rate, to the socket (the bare
  fan-out: Redis, the worker's channel reader and the consumer, no heartbeat).

An event not received within LOST_AFTER seconds counts as lost. Sockets the server closes and
exceptions in its log are reported. Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fanout REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/fanout.py [DASHBOARDS]
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import resource
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import import_module
from pathlib import Path
from typing import Any

from common import Row, print_rows, test_database, web_tier
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

ROOT = Path(__file__).resolve().parent.parent

DASHBOARDS = 2_000
WORKERS = 2  # as production on this 2-core box
INTERVAL = 10  # s: each node beats this often (HEARTBEAT_INTERVAL_SECONDS): 2,000 nodes = 200 beats/s
BEAT_SECONDS = 12  # measured, after a warm-up (each node's first beat)
BARE_SECONDS = 8
LOST_AFTER = 5.0
PING_SECONDS = 25  # the page's keep-alive (web/static/js/live.js)
CONNECTING = 64  # sockets opening at once
WARM_CONCURRENCY = 32  # first beats in flight during the warm-up


@dataclass
class Friend:
    user_id: int
    node_id: int
    api_key: str
    cookie: str
    agent_session: str = field(default_factory=lambda: uuid.uuid4().hex)
    seq: int = 0


@dataclass
class Phase:
    """Sends of one phase and what came of them."""

    name: str
    sent: dict[int, float] = field(default_factory=dict)  # user id -> send time (one in flight per user)
    latencies: list[float] = field(default_factory=list)  # ms
    lost: int = 0
    late: int = 0  # arrived after LOST_AFTER (counted lost as well)
    refused: int = 0  # heartbeat not accepted (no event expected)
    http: list[float] = field(default_factory=list)  # heartbeat request round trips, ms

    def expect(self, user_id: int, at: float) -> None:
        if user_id in self.sent:  # the previous one never came
            self.lost += 1
        self.sent[user_id] = at

    def received(self, user_id: int, at: float) -> None:
        sent = self.sent.pop(user_id, None)
        if sent is None:
            return
        ms = (at - sent) * 1000
        if ms > LOST_AFTER * 1000:
            self.late += 1
            self.lost += 1
        else:
            self.latencies.append(ms)

    def close(self) -> None:
        self.lost += len(self.sent)
        self.sent.clear()


def pct(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, round(len(ordered) * p) - 1))] if ordered else float("nan")


def summary(phase: Phase) -> str:
    o = sorted(phase.latencies)
    if not o:
        return f"{phase.name:<24}{0:>7}{'':>40}{phase.lost:>7}"
    return (
        f"{phase.name:<24}{len(o):>7}{statistics.median(o):>8.1f}{pct(o, 0.95):>8.1f}{pct(o, 0.99):>8.1f}"
        f"{o[-1]:>8.1f}{statistics.fmean(o):>8.1f}{phase.lost:>7}"
    )


# --- Set-up: friends, nodes, sessions -----------------------------------------------------------


def make_friends(count: int, secret: str) -> list[Friend]:
    """``count`` users, one node each (relaying a live stream), one signed-in session each: what logging in stores
    (user id, backend, auth hash under the server's SECRET_KEY), written in bulk."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.utils.crypto import get_random_string

    from core import tokens
    from nodes.models import Node
    from streams import services as stream_services
    from streams.models import Origin

    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    password = make_password(uuid.uuid4().hex)  # one real hash, shared: hashing 2,000 would take minutes
    users = User.objects.bulk_create(
        [User(username=f"friend{n}", email=f"friend{n}@example.com", password=password) for n in range(count)],
        batch_size=1000,
    )
    keys = [f"nk_fan{n:06d}{uuid.uuid4().hex}" for n in range(count)]
    nodes = Node.objects.bulk_create(
        [
            Node(
                owner=user,
                name=f"n{n}",
                public_url=f"http://n{n}.example:8090",
                api_key_hash=tokens.digest(key),
                api_key_hint=tokens.hint(key),
            )
            for n, (user, key) in enumerate(zip(users, keys, strict=True))
        ],
        batch_size=1000,
    )
    # A live stream for the nodes to relay, as heartbeating_fleet has: going live assigns them.
    streamer = User.objects.create_user("streamer")
    _, stream_key = stream_services.create_stream(owner=streamer, slug="bench")
    stream_services.admit_publish(
        stream_services.PublishRequest(origin=Origin.SRS, app="live", slug="bench", key=stream_key, client_id="c")
    )
    with override_settings(SECRET_KEY=secret):
        data = [
            {
                SESSION_KEY: str(user.pk),
                BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                HASH_SESSION_KEY: user.get_session_auth_hash(),
            }
            for user in users
        ]
        if hasattr(store_class, "get_model_class"):  # database-backed sessions: one bulk insert
            model = store_class.get_model_class()
            expires = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
            store = store_class()
            sessions = [
                model(
                    session_key=get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789"),
                    session_data=store.encode(d),
                    expire_date=expires,
                )
                for d in data
            ]
            model.objects.bulk_create(sessions, batch_size=1000)
            cookies = [s.session_key for s in sessions]
        else:
            cookies = []
            for d in data:
                store = store_class()
                store.update(d)
                store.create()
                cookies.append(store.session_key)
    return [
        Friend(user_id=u.pk, node_id=n.pk, api_key=k, cookie=c)
        for u, n, k, c in zip(users, nodes, keys, cookies, strict=True)
    ]


# --- The run ------------------------------------------------------------------------------------


def raise_fd_limit(need: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        soft = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


def group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def open_files_limit(pid: int) -> str:
    try:
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return " ".join(line.split()[3:5])
    except OSError:
        pass
    return "?"


def beat_body(friend: Friend) -> bytes:
    friend.seq += 1
    s = friend.seq
    return json.dumps(
        {
            "seq": s,
            "agent_session": friend.agent_session,
            "session_started_at": "2026-01-01T00:00:00Z",
            "stream": "bench",
            "counters": {"bytes_served": s * 1_000_000, "segments_served": s, "http_requests": s},
            "viewers": 1,
            "relay": {"ffmpeg_running": True, "newest_segment_age": 0.8},
            "agent_version": "bench",
        }
    ).encode()


async def run(friends: list[Friend], port: int, out: dict[str, Any]) -> None:
    import aiohttp
    from channels.layers import get_channel_layer
    from websockets.asyncio.client import connect

    from core.live import user_group

    loop = asyncio.get_running_loop()
    clock = time.perf_counter
    phases: dict[str, Phase] = {}
    current: dict[str, Phase | None] = {"beat": None, "bare": None}
    misdelivered = 0
    lag: list[float] = []
    closed: dict[int | str, int] = {}  # sockets the server closed during the run, by close code
    stopping = False

    async def watch_lag() -> None:  # this process's own event-loop delay: it adds to every figure
        while True:
            t = loop.time()
            await asyncio.sleep(0.02)
            lag.append((loop.time() - t - 0.02) * 1000)

    async def read(ws: Any, friend: Friend) -> None:
        nonlocal misdelivered
        try:
            await read_all(ws, friend)
        finally:
            if not stopping:
                code = ws.close_code if ws.close_code is not None else "error"
                closed[code] = closed.get(code, 0) + 1

    async def read_all(ws: Any, friend: Friend) -> None:
        nonlocal misdelivered
        async for raw in ws:
            at = clock()
            message = json.loads(raw)
            kind = message.get("kind")
            if kind == "node.heartbeat":
                if message["data"].get("node_id") != friend.node_id:
                    misdelivered += 1
                elif (phase := current["beat"]) is not None:
                    phase.received(friend.user_id, at)
            elif kind == "bench.bare" and (phase := current["bare"]) is not None:
                phase.received(friend.user_id, at)

    async def ping(ws: Any) -> None:  # as the page does: keeps the user "present"
        await asyncio.sleep(random.uniform(0, PING_SECONDS))  # noqa: S311
        while True:
            await ws.send('{"kind": "ping"}')
            await asyncio.sleep(PING_SECONDS)

    sockets: list[Any] = []
    tasks: list[asyncio.Task[None]] = []
    gate = asyncio.Semaphore(CONNECTING)
    url = f"ws://127.0.0.1:{port}/ws/live"
    cookie_name = settings.SESSION_COOKIE_NAME
    refused = 0

    async def open_one(friend: Friend) -> None:
        nonlocal refused
        async with gate:
            ws = await connect(
                url,
                origin=f"http://127.0.0.1:{port}",  # type: ignore[arg-type]
                additional_headers={"Cookie": f"{cookie_name}={friend.cookie}"},
                open_timeout=60,
                ping_interval=None,  # a browser sends no protocol pings; the page pings in JSON
                max_queue=None,
            )
            sockets.append(ws)
            hello = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if hello.get("kind") != "hello":
                refused += 1
                return
        tasks.append(loop.create_task(read(ws, friend)))
        tasks.append(loop.create_task(ping(ws)))

    tasks.append(loop.create_task(watch_lag()))
    try:
        started = clock()
        results = await asyncio.gather(*(open_one(f) for f in friends), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        out["connect_s"] = clock() - started
        out["connected"] = len(friends) - len(errors) - refused
        if errors or refused:
            raise SystemExit(f"{len(errors)} sockets failed to open, {refused} refused; first: {errors[:1]!r}")
        await asyncio.sleep(1)

        rate = len(friends) / INTERVAL

        async def paced(seconds: float, fire: Any) -> None:
            """``fire(i)`` at ``rate`` per second for ``seconds``, whatever the answers take."""
            pending = set()
            t0 = loop.time()
            for i in range(int(rate * seconds)):
                delay = t0 + i / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = loop.create_task(fire(i))
                pending.add(task)
                task.add_done_callback(pending.discard)
            if pending:
                await asyncio.gather(*pending)

        async def drained(phase: Phase) -> None:
            """Wait for the last events (at most LOST_AFTER), then count what never came as lost."""
            deadline = loop.time() + LOST_AFTER
            while phase.sent and loop.time() < deadline:
                await asyncio.sleep(0.05)
            phase.close()

        http = aiohttp.ClientSession(
            f"http://127.0.0.1:{port}",
            connector=aiohttp.TCPConnector(limit=256),
            timeout=aiohttp.ClientTimeout(total=60),
        )

        async def post_beat(friend: Friend) -> bool:
            body = beat_body(friend)
            headers = {"Authorization": f"Bearer {friend.api_key}", "Content-Type": "application/json"}
            try:
                async with http.post("/api/v1/nodes/heartbeat", data=body, headers=headers) as response:
                    answer = await response.json()
                    return response.status == 200 and bool(answer.get("accepted"))
            except (aiohttp.ClientError, TimeoutError):
                return False

        try:
            # Warm-up: each node's first beat (a new agent session, an assignment), as fast as the
            # server answers WARM_CONCURRENCY at a time: the measured beats then find a drained
            # server and rising sequence numbers, as in steady state.
            started = clock()
            gate = asyncio.Semaphore(WARM_CONCURRENCY)

            async def first(friend: Friend) -> bool:
                async with gate:
                    return await post_beat(friend)

            answered = await asyncio.gather(*(first(f) for f in friends))
            out["warm_s"] = clock() - started
            out["warm_refused"] = answered.count(False)

            phase = phases["heartbeat"] = Phase("heartbeat")
            current["beat"] = phase
            start = len(lag)

            async def beat(i: int) -> None:
                friend = friends[i % len(friends)]
                t = clock()
                phase.expect(friend.user_id, t)
                ok = await post_beat(friend)
                phase.http.append((clock() - t) * 1000)
                if not ok:
                    phase.refused += 1
                    phase.sent.pop(friend.user_id, None)

            await paced(BEAT_SECONDS, beat)
            await drained(phase)
            out["lag:heartbeat"] = lag[start:]
            current["beat"] = None
        finally:
            await http.close()

        layer = get_channel_layer()
        bare_phase = phases["bare channel-layer send"] = Phase("bare channel-layer send")
        current["bare"] = bare_phase
        start = len(lag)

        async def bare(i: int) -> None:
            friend = friends[i % len(friends)]
            message = {"type": "live.event", "audience": friend.user_id, "kind": "bench.bare", "data": {"n": i}}
            bare_phase.expect(friend.user_id, clock())
            await layer.group_send(user_group(friend.user_id), message)

        await paced(BARE_SECONDS, bare)
        await drained(bare_phase)
        out["lag:bare channel-layer send"] = lag[start:]
        current["bare"] = None
    finally:
        out["log_measured"] = len(out["log"].read_text(errors="replace"))
        stopping = True
        for task in tasks:
            task.cancel()
        for n in range(0, len(sockets), CONNECTING):  # a few at a time, as they opened: the server
            # then leaves their groups cleanly (its Redis pool is bounded)
            await asyncio.gather(*(ws.close() for ws in sockets[n : n + CONNECTING]), return_exceptions=True)
        await asyncio.gather(*tasks, return_exceptions=True)
        out["phases"] = phases
        out["misdelivered"] = misdelivered
        out["closed"] = closed


def measure(dashboards: int) -> dict[str, Any]:
    """Everything of one run: set-up, server, sockets, the three phases, clean-up."""
    if not settings.REDIS_URL:
        raise SystemExit("run it as production runs: DATABASE_URL (PostgreSQL) and REDIS_URL")
    import uvloop

    limit = raise_fd_limit(dashboards * 2 + 1024)  # this process's sockets; the server inherits it
    out: dict[str, Any] = {"fd_limit": limit}
    secret = "bench-" + uuid.uuid4().hex + uuid.uuid4().hex
    began = time.perf_counter()
    with test_database() as engine, tempfile.TemporaryDirectory() as tmp:
        if engine != "postgresql":
            raise SystemExit("run it as production runs: DATABASE_URL (PostgreSQL) and REDIS_URL")
        out["database_s"] = time.perf_counter() - began
        started = time.perf_counter()
        friends = make_friends(dashboards, secret)
        out["setup_s"] = time.perf_counter() - started
        work = Path(tmp)
        started = time.perf_counter()
        # No page is served: static files are not collected.
        server = web_tier(
            work, "--workers", str(WORKERS), "--skip-collectstatic", SECRET_KEY=secret, HEARTBEAT_RATE_LIMIT="1000000"
        )
        log = out["log"] = work / "web.log"
        try:
            with server as site:
                out["server_s"] = time.perf_counter() - started
                out["server_fd_limits"] = sorted({open_files_limit(p) for p in group_pids(site.pid)})
                out["server_pids"] = [p for p in group_pids(site.pid) if p != site.pid]
                uvloop.run(run(friends, site.port, out))
        except BaseException:
            sys.stderr.write(log.read_text()[-3000:])
            raise
        text = log.read_text(errors="replace")
        split = out.get("log_measured", len(text))
        out["server_errors"] = (errors_in(text[:split]), errors_in(text[split:]))
    out["total_s"] = time.perf_counter() - began
    return out


def errors_in(log: str) -> dict[str, int]:
    """Exceptions in a server log, by type: the last line of each traceback."""
    found: dict[str, int] = {}
    for line in log.splitlines():
        if re.match(r"^[\w.]+(Error|Exception|Timeout)\b", line):
            kind = line.split(":", 1)[0]
            found[kind] = found.get(kind, 0) + 1
    return found


def report(dashboards: int, out: dict[str, Any]) -> Row:
    phases: dict[str, Phase] = out["phases"]
    print(
        f"websocket fan-out: {dashboards:,} dashboards on `manage.py web` ({WORKERS} uvicorn workers), "
        f"PostgreSQL + Redis; {out['total_s']:.0f} s in all"
    )
    print(
        f"test database {out['database_s']:.1f} s, users/nodes/sessions {out['setup_s']:.1f} s, server up "
        f"{out['server_s']:.1f} s; {out['connected']:,} sockets open in {out['connect_s']:.1f} s; first beats "
        f"of all nodes answered in {out['warm_s']:.1f} s ({out['warm_refused']} not accepted)"
    )
    print(
        f"open files allowed: this process {out['fd_limit']}, server {', '.join(out['server_fd_limits'])}; "
        f"{dashboards / INTERVAL:.0f} sends/s (each node every {INTERVAL} s); lost: not on screen within "
        f"{LOST_AFTER:.0f} s"
    )
    print(f"{'what':<24}{'events':>7}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'mean':>8}{'lost':>7}   (ms)")
    for phase in phases.values():
        print(summary(phase))
    for name, phase in phases.items():
        if phase.http:
            h = sorted(phase.http)
            print(
                f"  {name}: HTTP round trip p50 {statistics.median(h):.1f} p99 {pct(h, 0.99):.1f} ms, "
                f"{phase.refused} not accepted"
            )
    for name in phases:
        lags = sorted(out.get(f"lag:{name}", []))
        if lags:
            print(f"  {name}: this process's loop delay p99 {pct(lags, 0.99):.1f} max {lags[-1]:.1f} ms")
    if out["closed"]:
        print(f"  !! sockets closed by the server during the run, by close code: {out['closed']}")
    during, after = out["server_errors"]
    if during:
        print(f"  !! server errors while measuring: {during}")
    if after:
        print(f"  !! server errors while the sockets closed: {after}")
    if out["misdelivered"]:
        print(f"  !! {out['misdelivered']} events reached another user's socket")
    print("server stopped, no uvicorn process left")  # web_tier() checks: it raises otherwise
    beats = sorted(phases["heartbeat"].latencies)
    bare = sorted(phases["bare channel-layer send"].latencies)
    return Row(
        what=f"heartbeat-to-screen p99, {dashboards:,} dashboards",
        figure=pct(beats, 0.99),
        unit="ms",
        ceiling_what="bare channel-layer send",
        ceiling=pct(bare, 0.99) if bare else None,
        target="<= 300 ms at 2,000",
        higher_is_better=False,
    )


def rows(dashboards: int) -> list[Row]:
    return [report(dashboards, measure(dashboards))]


def main(argv: list[str]) -> None:
    dashboards = int(argv[0]) if argv else DASHBOARDS
    print_rows(rows(dashboards))


if __name__ == "__main__":
    main(sys.argv[1:])
