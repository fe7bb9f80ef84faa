"""Benchmark: latency of the origin hooks (the origin blocks the publisher while it waits).

Runs on a throw-away test database (SQLite by default, PostgreSQL with DATABASE_URL) and prints
per-hook latency figures through Django's full request stack. Usage: make bench, or
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/hooks.py [ROUNDS]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "streamrp2p_site.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # one log line per hook would drown the figures

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from streams import services  # noqa: E402


def timed(client: Client, url: str, body: dict[str, str], samples: list[float]) -> None:
    started = time.perf_counter()
    response = client.post(url, data=json.dumps(body), content_type="application/json")
    samples.append((time.perf_counter() - started) * 1000)
    if response.status_code != 200:
        raise SystemExit(f"hook answered {response.status_code}: {response.content!r}")


def main(rounds: int) -> None:
    setup_test_environment()
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        owner = User.objects.create_user("bench")
        _, key = services.create_stream(owner=owner, slug="bench")
        client = Client()
        url = f"/hooks/srs?secret={settings.HOOK_SECRET}"
        base = {"app": "live", "stream": "bench", "ip": "127.0.0.1", "server_id": "vid-bench"}
        figures: dict[str, list[float]] = {"on_publish": [], "on_play": [], "on_stop": [], "on_unpublish": []}
        for n in range(rounds):
            timed(client, url, {**base, "action": "on_publish", "client_id": f"p{n}", "param": f"?key={key}"},
                  figures["on_publish"])  # fmt: skip
            timed(client, url, {**base, "action": "on_play", "client_id": f"v{n}"}, figures["on_play"])
            timed(client, url, {**base, "action": "on_stop", "client_id": f"v{n}"}, figures["on_stop"])
            timed(
                client, url, {**base, "action": "on_unpublish", "client_id": f"p{n}"}, figures["on_unpublish"]
            )
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        print(f"origin hook latency over {rounds} rounds on {engine} (ms, full Django request stack)")
        print(f"{'hook':<14}{'mean':>8}{'p50':>8}{'p95':>8}{'max':>8}")
        for name, samples in figures.items():
            ordered = sorted(samples)
            p95 = ordered[int(len(ordered) * 0.95) - 1]
            print(
                f"{name:<14}{statistics.fmean(samples):8.2f}{statistics.median(samples):8.2f}"
                f"{p95:8.2f}{ordered[-1]:8.2f}"
            )
    finally:
        connection.creation.destroy_test_db(test_db, verbosity=0)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
