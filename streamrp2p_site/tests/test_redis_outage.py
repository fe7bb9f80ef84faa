"""With Redis gone the web tier degrades instead of failing (issue 17).

A private redis-server backs the cache (the heartbeat rate limiter, dashboard presence) and the
channel layer (live pushes); it is killed or paused mid-test while heartbeats go through the ASGI
application production serves (the lean heartbeat route and its batcher) and SRS's hooks through
theirs. Every answer stays 200, every beat lands in its minute bucket, readiness stays 200.
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.db.models import Sum
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from core import live, outages
from nodes.models import NodeMinute
from nodes.tests.fixtures import beat_body
from streamrp2p_site.asgi import application
from streams.models import StreamSession
from streams.tests.hook_clients import srs_payload
from testkit.redis_server import RedisServer, redis_server

# The lean routes answer in worker threads: the test data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

HEARTBEAT = "/api/v1/nodes/heartbeat"


@pytest.fixture
def redis(settings: Any) -> Iterator[RedisServer]:
    """The site's cache and channel layer on a private Redis, with production's timeouts."""
    with redis_server() as server:
        settings.REDIS_URL = server.url
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": server.url,
                "OPTIONS": django_settings.REDIS_CACHE_OPTIONS,
            }
        }
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [{"address": server.url, **django_settings.REDIS_CHANNEL_HOST_OPTIONS}]},
            }
        }
        settings.REDIS_RETRY_SECONDS = 1  # production: 5; the recovery below waits this out
        outages.reset()
        live._present.clear()
        try:
            yield server
        finally:
            outages.reset()  # the next test starts with Redis trusted again
            live._present.clear()


class Agent:
    """A node agent's beats: its key, its session, a growing sequence number."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.session = uuid.uuid4().hex
        self.started = timezone.now().isoformat()
        self.seq = 0

    def next_body(self) -> bytes:
        self.seq += 1
        return json.dumps(beat_body(self.seq, self.session, self.started)).encode()


Answer = tuple[int, dict[str, Any], float]  # status, body, seconds to answer


def beat_together(agents: list[Agent]) -> list[Answer]:
    """One beat of every agent, sent at once through the ASGI application."""

    async def one(client: httpx.AsyncClient, agent: Agent) -> Answer:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {agent.api_key}"}
        started = time.perf_counter()
        answer = await client.post(HEARTBEAT, content=agent.next_body(), headers=headers)
        return answer.status_code, answer.json(), time.perf_counter() - started

    async def every() -> list[Answer]:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return list(await asyncio.gather(*(one(client, agent) for agent in agents)))

    return async_to_sync(every)()


def post_hook(body: dict[str, Any]) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            url = f"/hooks/srs?secret={django_settings.HOOK_SECRET}"
            return await client.post(
                url, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
            )

    return async_to_sync(send)()


def counters() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = Client().get("/metrics").content.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


FAIL_OPEN_LIMITER = ("streamr_redis_fail_open_total", (("use", "heartbeat_limiter"),))
CACHE_OUTAGES = ("streamr_redis_outages_total", (("dependency", "cache"),))
PUSHES_DROPPED = ("streamr_live_pushes_dropped_total", ())


def bucketed() -> int:
    return NodeMinute.objects.aggregate(n=Sum("heartbeats"))["n"] or 0


def outage_lines(caplog: pytest.LogCaptureFixture, words: str) -> int:
    return sum(words in record.getMessage() for record in caplog.records)


def test_heartbeats_answer_200_with_redis_killed_mid_run_and_every_beat_is_in_the_buckets(
    redis, register, friend, caplog
):
    caplog.set_level(logging.WARNING)
    agents = [Agent(register(f"n{i}")[1]) for i in range(10)]
    live.mark_present(friend.pk)  # a dashboard is open: each beat pushes through the channel layer
    up = [beat_together(agents) for _ in range(3)]  # 3 beats a node: under the limit of 5
    assert [status for round_ in up for status, _, _ in round_] == [200] * 30
    assert redis.client().keys("*hb-rate*"), "the limiter counts in this Redis while it is up"
    before = counters()

    redis.kill()
    rounds = [beat_together(agents) for _ in range(8)]  # 8 > HEARTBEAT_RATE_LIMIT (5): the limiter is open
    answers = [answer for round_ in rounds for answer in round_]
    through_django = Client().post(
        HEARTBEAT,
        data=agents[0].next_body(),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {agents[0].api_key}",
    )

    assert [status for status, _, _ in answers] == [200] * 80
    assert all(body["accepted"] for _, body, _ in answers)
    assert through_django.status_code == 200 and through_django.json()["accepted"] is True
    assert bucketed() == 30 + 80 + 1  # nothing answered is missing from the minute buckets
    seconds = sorted(took for _, _, took in answers)
    assert seconds[-1] < 2.0, f"slowest answer {seconds[-1]:.3f} s with Redis refusing connections"
    after = counters()
    assert after[FAIL_OPEN_LIMITER] - before.get(FAIL_OPEN_LIMITER, 0) == 81
    assert after[CACHE_OUTAGES] - before.get(CACHE_OUTAGES, 0) == 1
    assert after[PUSHES_DROPPED] > before.get(PUSHES_DROPPED, 0)
    assert outage_lines(caplog, "redis (cache) unavailable") == 1  # one line per outage, not per beat
    assert outage_lines(caplog, "redis (channel_layer) unavailable") == 1
    normal = statistics.median(took for round_ in up[1:] for _, _, took in round_)
    print(  # figures for docs/RELIABILITY.md (pytest -s)
        f"\nkilled redis: {len(answers)} beats answered 200, median {statistics.median(seconds) * 1000:.1f} ms,"
        f" slowest {seconds[-1] * 1000:.1f} ms (redis up: median {normal * 1000:.1f} ms)"
    )

    redis.start()  # back, empty: after REDIS_RETRY_SECONDS the limiter counts in it again
    time.sleep(django_settings.REDIS_RETRY_SECONDS + 0.2)
    assert [status for status, _, _ in beat_together(agents)] == [200] * 10
    assert redis.client().keys("*hb-rate*")
    assert outage_lines(caplog, "redis (cache) available again") == 1


def test_heartbeats_answer_200_in_bounded_time_while_redis_hangs(redis, register, friend, settings):
    settings.REDIS_RETRY_SECONDS = 5  # production's: the rounds below fit in one retry period
    agents = [Agent(register(f"h{i}")[1]) for i in range(10)]
    live.mark_present(friend.pk)
    beat_together(agents)
    with redis.paused():  # connections are accepted, nothing is answered
        rounds = [beat_together(agents) for _ in range(6)]
    answers = [answer for round_ in rounds for answer in round_]
    assert [status for status, _, _ in answers] == [200] * 60
    assert bucketed() == 10 + 60
    # Without socket timeouts the first batch would wait for a hung Redis forever; with them it
    # pays the cache's read timeout (0.5 s) and the push wait (1 s) once, the next ones skip Redis.
    first, rest = max(took for _, _, took in rounds[0]), [took for r in rounds[1:] for _, _, took in r]
    assert first < 5.0, f"first round took {first:.2f} s"
    assert max(rest) < 1.0, f"a later round waited {max(rest):.2f} s on the hung Redis"
    print(f"\nhung redis: first round {first * 1000:.0f} ms, later rounds slowest {max(rest) * 1000:.0f} ms")


def test_hooks_answer_200_with_redis_stopped(redis, stream_and_key, register, friend):
    _, key = stream_and_key
    register("relay")  # a stream going live assigns (and pushes to) relaying friends
    live.mark_present(friend.pk)
    before = counters()
    redis.kill()

    published = post_hook(srs_payload("on_publish", key=key))
    segment = post_hook(srs_payload("on_hls", duration=2.0, file="x.ts", url="x.ts", m3u8_url="x.m3u8", seq_no=1))
    unpublished = post_hook(srs_payload("on_unpublish"))

    assert [r.status_code for r in (published, segment, unpublished)] == [200, 200, 200]
    assert published.json() == {"code": 0}
    session = StreamSession.objects.get()
    assert session.ended_at is not None  # the publish went live and ended, as with Redis up
    assert counters()[PUSHES_DROPPED] > before.get(PUSHES_DROPPED, 0)


def test_readiness_stays_200_and_says_redis_is_down_while_liveness_asks_nothing(redis, client, caplog):
    caplog.set_level(logging.WARNING)
    assert client.get("/readyz").json() == {"status": "ok", "database": "ok", "redis": "ok"}
    redis.kill()
    for path in ("/readyz", "/healthz", "/readyz"):
        answer = client.get(path)
        assert answer.status_code == 200
        assert answer.json() == {"status": "ok", "database": "ok", "redis": "down"}
    assert client.get("/livez").status_code == 200
    assert outage_lines(caplog, "redis (cache) unavailable") == 1  # probes every few seconds: one line

    redis.start()
    assert client.get("/readyz").json()["redis"] == "ok"
    assert outage_lines(caplog, "redis (cache) available again") == 1
