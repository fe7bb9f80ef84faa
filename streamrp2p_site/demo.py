"""`make demo`: the whole pipeline on one machine, no Docker, stopped cleanly by Ctrl-C or a timer.

site + worker (`manage.py serve`) → nginx-rtmp origin whose hooks admit the publish → ffmpeg
publishing an 8 Mbps test picture → two `streamr-node` agents enrolled and relaying → spot-checks
comparing their HLS with the origin's → settlement. The demo has its own SQLite database
(.local/demo/), made afresh each run.

Settlement only pays closed hours. The demo advances its clock instead of waiting: every
DEMO_HOUR_SECONDS while it runs (and once more at the end) it closes a "demo hour" — the minutes
relayed so far move into an empty past hour of its throw-away database, which the same service the
hourly job uses settles (streamrp2p_site/demo_hours.py) — so earnings, payouts and the leaderboard
fill while it runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
from django.conf import settings
from django.contrib.auth.models import User

from core import live_outbox
from nodes import services as node_services
from nodes.models import Node
from rewards import services as reward_services
from rewards.models import LedgerEntry
from streamrp2p_site.demo_hours import DemoHours
from streams import services as stream_services
from streams.models import Stream, StreamSession
from testkit.agents import AgentProcess
from testkit.media import (
    NginxRtmpOrigin,
    free_port,
    missing_media_tools,
    publish_test_source,
    stop_process,
)
from validation import services as validation_services
from validation.models import SpotCheck

PR_SET_PDEATHSIG = 1
PASSWORDS = {"admin": "demo-admin-pass", "friend": "demo-friend-pass", "streamer": "demo-streamer-pass"}
HEARTBEAT_SECONDS = 2
DEMO_RATE = Decimal("120.00")  # per live hour, so a short demo still earns visible cents
DEMO_HOUR_SECONDS = float(os.environ.get("DEMO_HOUR_SECONDS") or 20)  # one settled "hour" this often


class DemoError(Exception):
    pass


class Stopped(Exception):
    """Ctrl-C (or the terminal closing) during start-up: skip to the clean-up."""


@dataclass
class Processes:
    """Everything started, stopped in reverse order whatever happens."""

    stops: list[Callable[[], object]] = field(default_factory=list)

    def add(self, stop: Callable[[], object]) -> None:
        self.stops.append(stop)

    def stop_all(self) -> None:
        while self.stops:
            with contextlib.suppress(Exception):
                self.stops.pop()()


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the demo itself dies (even by SIGKILL), so `serve` stops its
    site and worker instead of running on as orphans."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _say(line: str) -> None:
    print(f"demo: {line}", flush=True)


def _wait(condition: Callable[[], bool], timeout: float, what: str, stopping: Callable[[], bool]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopping():
        if condition():
            return
        time.sleep(0.5)
    if stopping():
        raise Stopped
    raise DemoError(f"not within {timeout:.0f} s: {what}")


class Demo:
    def __init__(self, workdir: Path, seconds: float | None) -> None:
        self.workdir = workdir
        self.seconds = seconds
        self.stopping = False
        self.procs = Processes()
        self.port = int(os.environ.get("DEMO_PORT") or free_port())
        self.site = f"http://127.0.0.1:{self.port}"
        self.payout_said = False

    # --- set-up -------------------------------------------------------------------------------
    def people(self) -> tuple[User, User]:
        User.objects.create_superuser("admin", "admin@example.com", PASSWORDS["admin"])
        friend = User.objects.create_user("friend", "friend@example.com", PASSWORDS["friend"])
        streamer = User.objects.create_user("streamer", "streamer@example.com", PASSWORDS["streamer"])
        reward_services.set_payout_method(friend, kind="paypal", address="friend@example.com")
        return friend, streamer

    def start_site(self, origin: NginxRtmpOrigin) -> None:
        env = {
            **os.environ,
            "ORIGIN_RTMP_URL": f"rtmp://127.0.0.1:{origin.rtmp_port}/{{app}}/{{stream}}",
            "ORIGIN_HLS_URL": f"http://127.0.0.1:{origin.http_port}/hls/{{stream}}.m3u8",
            "SITE_URL": self.site,
            "LOG_LEVEL": "WARNING",
            "INSECURE_HTTP": "true",  # plain http on loopback, even where the caller's DEBUG is off
        }
        log = (self.workdir / "site.log").open("wb")
        # This process spot-checks too: it must read the origin where the site does.
        settings.ORIGIN_RTMP_URL, settings.ORIGIN_HLS_URL = env["ORIGIN_RTMP_URL"], env["ORIGIN_HLS_URL"]
        serve = subprocess.Popen(  # noqa: S603  (our own interpreter and manage.py)
            [sys.executable, str(settings.BASE_DIR / "manage.py"), "serve", "--port", str(self.port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

        def stop() -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(serve.pid, signal.SIGTERM)  # serve stops daphne and the qcluster
            try:
                serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(serve.pid, signal.SIGKILL)
                serve.wait()

        self.procs.add(stop)
        _wait(lambda: self._answers("/healthz"), 30, "the site answers", lambda: self.stopping)

    def _answers(self, path: str) -> bool:
        try:
            return httpx.get(self.site + path, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    # --- the run ------------------------------------------------------------------------------
    def run(self) -> int:
        reason = missing_media_tools()
        if reason is not None:
            _say(f"cannot run: {reason}")
            return 1
        if not settings.REDIS_URL:
            # This process spot-checks and settles too: its pushes reach the open pages through the
            # web process, as the worker's do (core/live_outbox.py).
            os.environ[live_outbox.ROLE_ENV] = "write"
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # HUP: the terminal closed
            signal.signal(signum, self._stop)
        started = time.monotonic()
        try:
            return self._run(started)
        except DemoError as exc:
            _say(f"failed: {exc} (logs in {self.workdir})")
            return 1
        except Stopped:
            _say("stopping before the demo was ready.")
            return 0
        finally:
            self.procs.stop_all()
            _say("stopped everything.")

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _run(self, started: float) -> int:
        friend, streamer = self.people()
        stream, key = stream_services.create_stream(
            owner=streamer, slug="demo", title="Demo stream", reward_rate_per_hour=DEMO_RATE
        )
        origin = NginxRtmpOrigin(
            self.workdir / "origin", hook_base_url=self.site, secret=settings.HOOK_SECRET, update_seconds=5
        )
        origin.__enter__()
        self.procs.add(lambda: origin.__exit__(None, None, None))
        self.start_site(origin)
        _say(f"site {self.site} (ASGI + worker), origin rtmp://127.0.0.1:{origin.rtmp_port}/live")

        publisher = publish_test_source(
            origin.rtmp_url("demo", key), seconds=24 * 3600, video_bitrate="8M", size="1280x720"
        )
        self.procs.add(lambda: stop_process(publisher))
        _wait(
            lambda: StreamSession.objects.filter(stream=stream, ended_at__isnull=True).exists(),
            20,
            "the origin's hook admits the 8 Mbps publish",
            lambda: self.stopping,
        )
        _say("publishing an 8 Mbps test picture; the origin's hook admitted it")

        agents = []
        for name in ("den", "attic"):
            _, token = node_services.create_enrollment_token(friend)
            agent = AgentProcess(self.workdir / "agents", name=name, coordinator=self.site)
            agent.register(token)
            agents.append(agent.start())
            self.procs.add(agent.stop)
        _wait(
            lambda: Node.objects.filter(relaying_slug="demo", relay_running=True).count() == 2,
            60,
            "both agents relay the stream",
            lambda: self.stopping,
        )
        self.print_urls()

        hours = DemoHours(stream, friend)
        next_check = next_hour = 0.0
        while not self.stopping and (self.seconds is None or time.monotonic() - started < self.seconds):
            if time.monotonic() >= next_check:
                self.spot_check(stream)
                next_check = time.monotonic() + 20
            # The first demo hour closes as soon as a check passed: pay rests on verified relaying.
            if time.monotonic() >= next_hour and SpotCheck.objects.filter(outcome="pass").exists():
                self.close_hour(hours)
                next_hour = time.monotonic() + DEMO_HOUR_SECONDS
            time.sleep(0.5)
        return self.finish(stream, friend, hours)

    def close_hour(self, hours: DemoHours) -> None:
        settlement = hours.close_one()
        if settlement is not None:
            _say(
                f"demo hour {settlement.hour:%H:00} settled: pool {settlement.pool}, credited {settlement.credited}; "
                f"friend's balance {reward_services.balance(hours.friend.pk)}"
            )
        if hours.payout is not None and not self.payout_said:
            self.payout_said = True
            _say(f"friend requested a payout of {hours.payout.amount} (waits for the admin in /admin/)")

    def print_urls(self) -> None:
        _say("ready:")
        print(f"  dashboard   {self.site}/me          (friend / {PASSWORDS['friend']})")
        print(f"  watch page  {self.site}/watch/demo")
        print(f"  streamer    {self.site}/me/streams  (streamer / {PASSWORDS['streamer']})")
        print(f"  admin       {self.site}/admin/      (admin / {PASSWORDS['admin']})")
        ending = f"ends by itself in {self.seconds:.0f} s" if self.seconds else "Ctrl-C ends it"
        print(f"  ({ending}; a demo hour settles every {DEMO_HOUR_SECONDS:.0f} s)", flush=True)

    def spot_check(self, stream: Stream) -> None:
        try:
            validation_services.sample_origin(stream)
        except Exception as exc:  # the origin's window may not be there yet
            _say(f"origin not sampled yet ({exc})")
            return
        for node in Node.objects.filter(assigned_stream=stream).select_related("assigned_stream"):
            try:
                check = validation_services.spot_check(node, trigger="demo")
            except validation_services.CheckSkipped as exc:
                _say(f"spot-check of {node.name} skipped: {exc}")
                continue
            _say(f"spot-check of {node.name}: {check.outcome} ({check.latency_ms} ms)")

    # --- the end ------------------------------------------------------------------------------
    def finish(self, stream: Stream, friend: User, hours: DemoHours) -> int:
        relaying = list(Node.objects.filter(relaying_slug="demo", relay_running=True).values_list("name", flat=True))
        live = StreamSession.objects.filter(stream=stream, ended_at__isnull=True).exists()
        self.procs.stop_all()  # publisher, agents, site, origin: the session ends through the hook
        hours.close_one()  # the minutes since the last demo hour
        settled = hours.settled
        credits = LedgerEntry.objects.filter(settlement__in=settled).select_related("node")
        checks = SpotCheck.objects.values_list("outcome", flat=True)
        print("\n=== demo summary ===")
        print(f"stream 'demo' live: {'yes' if live else 'no'}; 8 Mbps publish through the nginx-rtmp origin")
        print(f"nodes relaying at the end: {len(relaying)} ({', '.join(relaying) or 'none'})")
        print(f"spot-checks: {sum(1 for c in checks if c == 'pass')} passed of {len(checks)}")
        for settlement in settled:
            print(
                f"settled {settlement.hour:%Y-%m-%d %H:00} (demo hour): pool {settlement.pool}, "
                f"credited {settlement.credited} to {settlement.nodes} node(s)"
            )
        for entry in credits:
            print(f"  credit {entry.amount} to {entry.user.username} for node {entry.node.name} ({entry.minutes} min)")
        print(f"friend's balance: {reward_services.balance(friend.pk)} {settings.CURRENCY}")
        if hours.payout is not None:
            print(f"friend's payout request: {hours.payout.amount} {settings.CURRENCY}, waiting for an admin")
        ok = live and len(relaying) == 2 and "pass" in checks and any(s.credited > 0 for s in settled)
        print(f"=== {'all parts worked' if ok else 'something did not work: see ' + str(self.workdir)} ===")
        return 0 if ok or self.stopping else 1
