"""The production web tier: collect static files, then serve the site over ASGI (HTTP and websockets).

uvicorn with uvloop and httptools, one process per core by default: measured against daphne on the
heartbeat path (docs/BENCHMARKS.md). `--server daphne` keeps the old server for comparison.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from core.env import env_int

APPLICATION = "streamrp2p_site.asgi:application"


class Command(BaseCommand):
    help = "Collect static files, then serve the site (ASGI: HTTP and websockets) in the foreground."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=env_int("PORT", 8000, minimum=1))
        parser.add_argument(
            "--workers", type=int, default=env_int("WEB_WORKERS", os.cpu_count() or 1, minimum=1), help="Processes."
        )
        parser.add_argument("--server", choices=["uvicorn", "daphne"], default=os.environ.get("WEB_SERVER", "uvicorn"))
        parser.add_argument("--skip-collectstatic", action="store_true", help="Static files are collected already.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["skip_collectstatic"]:
            call_command("collectstatic", interactive=False, verbosity=0)
        host, port = options["host"], str(options["port"])
        if options["server"] == "daphne":
            # daphne's own command line, with an access log that redacts the hook secret.
            argv = ["-m", "streamrp2p_site.daphne_server", "-b", host, "-p", port, "--proxy-headers", APPLICATION]
        else:
            argv = ["-m", "uvicorn", APPLICATION, "--host", host, "--port", port]
            argv += ["--workers", str(options["workers"]), "--loop", "uvloop", "--http", "httptools"]
            # Behind the TLS proxy: X-Forwarded-For/-Proto from FORWARDED_ALLOW_IPS (uvicorn's own
            # variable; 127.0.0.1 unless set). The access log goes through the site's logging
            # (settings.LOGGING: "uvicorn.access" at LOG_LEVEL), which redacts the hook secret.
            argv += ["--proxy-headers", "--lifespan", "off"]
        self.stdout.write(f"serving {APPLICATION} with {options['server']} on {host}:{port}", ending="\n")
        self.stdout.flush()
        os.execv(sys.executable, [sys.executable, *argv])  # noqa: S606  (replace this process: signals reach the server)
