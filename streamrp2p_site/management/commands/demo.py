"""`make demo`: see streamrp2p_site/demo.py."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Run the whole pipeline locally (site, worker, origin, publisher, two agents, checks, settlement)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seconds", type=float, default=None, help="Stop after this long (DEMO_SECONDS).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            # The demo drives the test harness's nginx-rtmp origin, publisher and agents, which the
            # production image leaves out (with nginx and ffmpeg): it runs from a source checkout.
            from streamrp2p_site.demo import Demo
        except ModuleNotFoundError as exc:
            if exc.name != "testkit" and not str(exc.name).startswith("testkit."):
                raise
            raise CommandError(
                "The demo needs a source checkout (its test harness, testkit/): run `make demo`."
            ) from None
        database = settings.DATABASES["default"]
        workdir = Path(settings.BASE_DIR) / ".local" / "demo"
        if not str(database["NAME"]).startswith(str(workdir)):
            raise CommandError("The demo runs on its own database: start it with `make demo`.")
        shutil.rmtree(workdir / "run", ignore_errors=True)
        (workdir / "run").mkdir(parents=True)
        call_command("migrate", verbosity=0)
        sys.exit(Demo(workdir / "run", options["seconds"]).run())
