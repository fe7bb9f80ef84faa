"""Benchmark: latency of the origin hooks (the origin blocks the publisher while it waits).

Runs on a throw-away test database (SQLite by default, PostgreSQL with DATABASE_URL) through
Django's full request stack. Usage: make bench, or
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/hooks.py [ROUNDS]
"""

from __future__ import annotations

import json
import sys
import time

from common import print_latencies, test_database
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from streams import services


def timed(client: Client, url: str, body: dict[str, str], samples: list[float]) -> None:
    started = time.perf_counter()
    response = client.post(url, data=json.dumps(body), content_type="application/json")
    samples.append((time.perf_counter() - started) * 1000)
    if response.status_code != 200:
        raise SystemExit(f"hook answered {response.status_code}: {response.content!r}")


def main(rounds: int) -> None:
    with test_database() as engine:
        owner = User.objects.create_user("bench")
        _, key = services.create_stream(owner=owner, slug="bench")
        client = Client()
        url = f"/hooks/srs?secret={settings.HOOK_SECRET}"
        base = {"app": "live", "stream": "bench", "ip": "127.0.0.1", "server_id": "vid-bench"}
        figures: dict[str, list[float]] = {"on_publish": [], "on_play": [], "on_stop": [], "on_unpublish": []}
        for n in range(rounds):
            publish = {**base, "action": "on_publish", "client_id": f"p{n}", "param": f"?key={key}"}
            timed(client, url, publish, figures["on_publish"])
            timed(client, url, {**base, "action": "on_play", "client_id": f"v{n}"}, figures["on_play"])
            timed(client, url, {**base, "action": "on_stop", "client_id": f"v{n}"}, figures["on_stop"])
            timed(client, url, {**base, "action": "on_unpublish", "client_id": f"p{n}"}, figures["on_unpublish"])
        print(f"origin hook latency over {rounds} rounds on {engine} (full Django request stack)")
        print_latencies(figures)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
