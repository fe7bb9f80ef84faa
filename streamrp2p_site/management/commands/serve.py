"""Serve the site over ASGI (daphne) and run a django-q2 worker beside it; Ctrl-C stops both."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from core import live_outbox


class Command(BaseCommand):
    help = "Run daphne (ASGI) and a django-q2 cluster together until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        manage = str(settings.BASE_DIR / "manage.py")
        web = [
            "-m",
            "streamrp2p_site.daphne_server",  # daphne, its access log without the hook secret
            "-b",
            options["host"],
            "-p",
            str(options["port"]),
            "streamrp2p_site.asgi:application",
        ]
        commands = {"web": [sys.executable, *web], "worker": [sys.executable, manage, "qcluster"]}
        # Without Redis each process has its own in-memory channel layer: the worker's pushes
        # (spot-checks, settlement, payouts) go through a database outbox the web process relays
        # (core/live_outbox.py). With Redis both share its layer and nothing is relayed.
        roles = {} if settings.REDIS_URL else {"web": "drain", "worker": "write"}
        # Each child leads its own process group, so stopping reaches a qcluster's workers too.
        children = {
            name: subprocess.Popen(
                cmd, start_new_session=True, cwd=settings.BASE_DIR, env=_env(live_outbox.ROLE_ENV, roles.get(name))
            )
            for name, cmd in commands.items()
        }
        self.stdout.write(
            f"Serving http://{options['host']}:{options['port']}/ with a django-q2 worker. Ctrl-C stops both."
        )

        stopping = False

        def request_stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        exit_code = 0
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    self.stderr.write(f"{name} exited with code {child.returncode}; stopping.")
                    exit_code = child.returncode or 1
                    stopping = True
            time.sleep(0.2)
        self._stop(children)
        if exit_code:
            sys.exit(exit_code)

    def _stop(self, children: dict[str, subprocess.Popen[bytes]]) -> None:
        # SIGTERM to each child only, never its whole group: django-q2's sentinel resets SIGTERM to
        # the default, so a group-wide TERM kills it while the cluster waits on it, and the cluster
        # then hangs for good. The cluster stops its own workers; the group KILL below is the net.
        for child in children.values():
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20  # a running job may finish first
        for child in children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
        for child in children.values():
            _signal_group(child, signal.SIGKILL)  # whatever is left of its group: no orphans
            child.wait()
        self.stdout.write("Stopped.")


def _signal_group(child: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signum)


def _env(name: str, value: str | None) -> dict[str, str]:
    env = {key: val for key, val in os.environ.items() if key != name}
    if value:
        env[name] = value
    return env
