"""Heartbeats that arrive together are recorded together, each judged as if it came alone."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.db.models import Sum

from nodes import fastpath
from nodes.api import answer_heartbeats
from nodes.batching import Batcher
from nodes.models import Node, NodeMinute
from nodes.tests.fixtures import beat_body
from streamrp2p_site.asgi import application


def bearer(api_key: str) -> str:
    return f"Bearer {api_key}"


def counters(total: int) -> dict[str, int]:
    return {"bytes_served": total, "segments_served": 1, "http_requests": 1}


@pytest.mark.django_db
def test_one_batch_answers_every_node_as_if_alone(register):
    (a, key_a), (b, key_b) = register("a"), register("b")
    answers = answer_heartbeats(
        [
            (bearer(key_a), beat_body(1, "s1", counters=counters(1000))),
            (bearer(key_b), beat_body(1, "s1", counters=counters(5000))),
            (bearer("nk_" + "0" * 40), beat_body(1, "s1")),
            (bearer(key_b), {"seq": "no"}),
            ("", beat_body(1, "s1")),
        ]
    )
    assert [status for status, _, _ in answers] == [200, 200, 401, 400, 401]
    assert answers[0][1]["accepted"] and answers[1][1]["accepted"]
    assert [code["error"]["code"] for _, code, _ in answers[2:]] == ["bad_api_key", "invalid", "unauthenticated"]
    served = dict(NodeMinute.objects.values_list("node_id").annotate(Sum("bytes_served")))
    assert served == {a.pk: 1000, b.pk: 5000}


@pytest.mark.django_db
def test_a_body_that_breaks_a_parser_fails_only_itself(register):
    (_, key_a), (_, key_b) = register("a"), register("b")
    broken = beat_body(1, "s1", relay={"ffmpeg_running": True, "newest_segment_age": 10**400})
    answers = answer_heartbeats([(bearer(key_a), broken), (bearer(key_b), beat_body(1, "s1"))])
    assert [status for status, _, _ in answers] == [400, 200]
    assert answers[1][1]["accepted"] is True


@pytest.mark.django_db
def test_a_node_twice_in_one_batch_counts_each_new_beat_once(register):
    node, key = register("den")
    answers = answer_heartbeats(
        [
            (bearer(key), beat_body(1, "s1", counters=counters(1000))),
            (bearer(key), beat_body(2, "s1", counters=counters(3000))),
            (bearer(key), beat_body(2, "s1", counters=counters(3000))),  # a retried copy
            (bearer(key), beat_body(1, "s1", counters=counters(1000))),  # late
        ]
    )
    assert [body["accepted"] for _, body, _ in answers] == [True, True, False, False]
    bucket = NodeMinute.objects.get(node=node)
    assert (bucket.heartbeats, bucket.bytes_served) == (2, 3000)
    node.refresh_from_db()
    assert (node.last_seq, node.bytes_served_total) == (2, 3000)


@pytest.mark.django_db
def test_clamped_values_in_a_batch_are_flagged_on_the_node(register, settings):
    settings.NODE_MAX_VIEWERS = 10
    node, key = register("den")
    [(status, body, _)] = answer_heartbeats([(bearer(key), beat_body(1, "s1", viewers=500))])
    assert status == 200 and body["clamped"] == ["viewers 500 above 10"]
    node.refresh_from_db()
    assert (node.viewers, node.anomalies, node.last_anomaly) == (10, 1, "viewers 500 above 10")


@pytest.mark.django_db(transaction=True)
def test_beats_arriving_together_share_a_batch_and_all_count(register, monkeypatch):
    keys = [register(f"n{i}")[1] for i in range(40)]
    sizes: list[int] = []
    answer = fastpath.BATCHER._answer

    def watched(items):
        sizes.append(len(items))
        return answer(items)

    monkeypatch.setattr(fastpath.BATCHER, "_answer", watched)

    async def beat_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/api/v1/nodes/heartbeat",
                        content=json.dumps(beat_body(1, "s1")),
                        headers={"Authorization": bearer(key), "Content-Type": "application/json"},
                    )
                    for key in keys
                )
            )

    answers = async_to_sync(beat_all)()
    assert [a.status_code for a in answers] == [200] * 40 and all(a.json()["accepted"] for a in answers)
    assert sum(sizes) == 40 and max(sizes) > 1, sizes
    assert NodeMinute.objects.aggregate(n=Sum("heartbeats"))["n"] == 40
    assert Node.objects.filter(last_seq=1).count() == 40


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_fails_is_answered_beat_by_beat(register, monkeypatch):
    keys = [register(f"n{i}")[1] for i in range(3)]
    answer = fastpath.BATCHER._answer

    def fails_in_company(items):
        if len(items) > 1:
            raise RuntimeError("the database went away")
        return answer(items)

    monkeypatch.setattr(fastpath.BATCHER, "_answer", fails_in_company)
    results = fastpath.BATCHER._answer_all([(bearer(k), beat_body(1, "s1")) for k in keys])
    assert [status for status, _, _ in results] == [200, 200, 200]
    assert NodeMinute.objects.aggregate(n=Sum("heartbeats"))["n"] == 3


def test_a_flood_beyond_what_may_wait_is_refused_at_once():
    batcher: Batcher[int] = Batcher(lambda items: [(200, {}, {}) for _ in items], most_waiting=0)
    status, body, headers = async_to_sync(batcher.submit)(1)
    assert (status, body["error"]["code"], headers["Retry-After"]) == (503, "busy", "1")
