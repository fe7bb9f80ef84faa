"""Benchmark: the heartbeat path for 10,000 nodes.

Registers NODES nodes on a throw-away test database, lets them relay one live stream, then sends
ROUNDS heartbeats from every node through Django's full request stack (auth, rate limit, body
validation, conditional node update, minute-bucket upsert) in one process, and prints latency,
throughput, queries per heartbeat, and how many such processes 10,000 nodes every 10 s need.
Usage (PostgreSQL, as in production; add REDIS_URL for the Redis rate-limit cache):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/heartbeats.py [NODES] [ROUNDS]
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any

from common import heartbeating_fleet, print_latencies, test_database
from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.test import Client

from nodes.models import NodeMinute


def heartbeat(seq: int, session: str, viewers: int) -> dict[str, object]:
    return {
        "seq": seq,
        "agent_session": session,
        "session_started_at": "2026-01-01T00:00:00Z",
        "stream": "bench",
        "counters": {"bytes_served": seq * 1_000_000, "segments_served": seq * 10, "http_requests": seq * 12},
        "viewers": viewers,
        "relay": {"ffmpeg_running": True, "newest_segment_age": 0.8},
        "agent_version": "bench",
    }


def send(client: Client, api_key: str, body: dict[str, object]) -> HttpResponse:
    return client.post(
        "/api/v1/nodes/heartbeat",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
    )


def main(nodes: int, rounds: int) -> None:
    settings.HEARTBEAT_RATE_LIMIT = 10**9  # measure the path, not the limiter's refusals
    with test_database() as engine:
        api_keys = heartbeating_fleet(nodes)
        client = Client()
        session = uuid.uuid4().hex
        # Warm-up round, not measured: first heartbeats assign the stream and create buckets.
        for api_key in api_keys:
            send(client, api_key, heartbeat(1, session, 0))
        samples: list[float] = []
        queries = 0

        def count_query(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            nonlocal queries
            queries += 1
            return execute(sql, params, many, context)

        started = time.perf_counter()
        for seq in range(2, rounds + 2):
            for n, api_key in enumerate(api_keys):
                body = heartbeat(seq, session, viewers=n % 7)
                begin = time.perf_counter()
                with connection.execute_wrapper(count_query):
                    response = send(client, api_key, body)
                samples.append((time.perf_counter() - begin) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"heartbeat answered {response.status_code}: {response.content!r}")
        elapsed = time.perf_counter() - started
        beats = nodes * rounds
        rate = beats / elapsed
        interval = settings.HEARTBEAT_INTERVAL_SECONDS
        target = 10_000 / interval
        print(f"{beats} heartbeats from {nodes} nodes ({rounds} rounds) on {engine}, one process, one thread")
        print_latencies({"heartbeat": samples})
        print(f"throughput:      {rate:,.0f} heartbeats/s ({elapsed:.1f} s)")
        print(f"queries/beat:    {queries / beats:.1f}")
        print(f"buckets written: {NodeMinute.objects.count()} (one per node per minute)")
        print(f"10,000 nodes every {interval} s = {target:,.0f} beats/s: {target / rate:.1f} such processes")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*(args + [10_000, 2][len(args) :]))
