"""Heartbeats: cheap, idempotent, clamped, rate-limited; never a 500."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from nodes import services
from nodes.models import Node, NodeMinute, NodeStatus
from nodes.tests.fixtures import beat_body
from streams.tests.hook_clients import srs_payload

pytestmark = pytest.mark.django_db


def counters(b=0, s=0, r=0):
    return {"bytes_served": b, "segments_served": s, "http_requests": r}


def test_a_heartbeat_marks_the_node_online_and_fills_its_minute_bucket(register, node_client):
    node, key = register()
    agent = node_client(key)
    answer = agent.beat(
        counters=counters(1000, 2, 3), viewers=4, relay={"ffmpeg_running": True, "newest_segment_age": 1.5}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["accepted"] is True and body["next_heartbeat_in"] == 10 and body["assignment"] is None
    node.refresh_from_db()
    assert node.status == NodeStatus.ONLINE and node.viewers == 4
    bucket = NodeMinute.objects.get(node=node)
    assert (bucket.heartbeats, bucket.bytes_served, bucket.segments_served, bucket.http_requests) == (
        1,
        1000,
        2,
        3,
    )
    assert (bucket.healthy_heartbeats, bucket.max_viewers) == (1, 4)


def test_buckets_add_the_increase_of_monotonic_counters(register, node_client):
    node, key = register()
    agent = node_client(key)
    agent.beat(counters=counters(1000, 1, 1))
    agent.beat(counters=counters(5000, 3, 4))
    bucket = NodeMinute.objects.get(node=node)
    assert (bucket.heartbeats, bucket.bytes_served, bucket.segments_served, bucket.http_requests) == (
        2,
        5000,
        3,
        4,
    )


def test_a_duplicate_or_old_sequence_number_is_ignored(register, node_client):
    node, key = register()
    agent = node_client(key)
    agent.beat(counters=counters(1000))
    agent.beat(counters=counters(2000))
    replay = agent.post(beat_body(2, agent.session, counters=counters(2000)))
    older = agent.post(beat_body(1, agent.session, counters=counters(9000)))
    assert replay.json()["accepted"] is False and older.json()["accepted"] is False
    bucket = NodeMinute.objects.get(node=node)
    assert (bucket.heartbeats, bucket.bytes_served) == (2, 2000)


def test_an_agent_restart_resets_counters_without_losing_or_inventing_bytes(register, node_client):
    node, key = register()
    first = node_client(key)
    first.beat(counters=counters(5000))
    restarted = node_client(key)  # new agent_session, seq starts again at 1
    assert restarted.beat(counters=counters(700)).json()["accepted"] is True
    assert NodeMinute.objects.get(node=node).bytes_served == 5700


def test_negative_values_are_clamped_and_flagged(register, node_client):
    node, key = register()
    body = node_client(key).beat(counters=counters(-5, -1, 2), viewers=-3).json()
    assert body["accepted"] is True and len(body["clamped"]) == 3
    bucket = NodeMinute.objects.get(node=node)
    assert (bucket.bytes_served, bucket.segments_served, bucket.max_viewers, bucket.clamped) == (0, 0, 0, 3)
    node.refresh_from_db()
    assert node.anomalies == 3 and "negative" in node.last_anomaly


def test_physically_absurd_values_are_clamped_to_the_uplink_limit(register, node_client, settings):
    settings.NODE_MAX_UPLINK_MBPS = 100
    node, key = register()
    body = node_client(key).beat(counters=counters(10**15), viewers=10**9).json()
    assert any("bytes_served" in c for c in body["clamped"]) and any("viewers" in c for c in body["clamped"])
    bucket = NodeMinute.objects.get(node=node)
    assert bucket.bytes_served == 100 * 1_000_000 // 8 * 10  # 100 Mbit/s for one 10 s interval
    assert bucket.max_viewers == settings.NODE_MAX_VIEWERS


def test_a_flood_of_heartbeats_gets_429_with_retry_after(register, node_client, settings):
    _, key = register()
    agent = node_client(key)
    statuses = [agent.beat().status_code for _ in range(settings.HEARTBEAT_RATE_LIMIT + 5)]
    assert statuses[: settings.HEARTBEAT_RATE_LIMIT] == [200] * settings.HEARTBEAT_RATE_LIMIT
    assert set(statuses[settings.HEARTBEAT_RATE_LIMIT :]) == {429}
    refused = agent.beat()
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 10
    assert refused.json()["error"]["code"] == "rate_limited"


@pytest.mark.parametrize("header", [None, "Bearer nk_wrong", "Basic abc", "Bearer ", "nk_nobearer"])
def test_a_missing_or_bad_api_key_gets_401(client, register, header):
    register()
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = client.post("/api/v1/nodes/heartbeat", data="{}", content_type="application/json", **extra)
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"unauthenticated", "bad_api_key"}
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "body",
    [
        {},
        [],
        "beat",
        None,
        beat_body(seq=0),
        beat_body(seq="one"),
        beat_body(seq=2**70),
        beat_body(counters={"bytes_served": "lots", "segments_served": 0, "http_requests": 0}),
        beat_body(counters=None),
        beat_body(relay={"ffmpeg_running": "maybe", "newest_segment_age": 1}),
        beat_body(relay={"ffmpeg_running": True, "newest_segment_age": float("nan")}),
        beat_body(agent_session="x" * 65),
        beat_body(public_url="javascript:alert(1)"),
        beat_body(stream="\x00"),
        beat_body(viewers=1.5),
    ],
)
def test_a_bad_body_gets_400_never_500(register, node_client, body):
    _, key = register()
    response = node_client(key).post(body)
    assert response.status_code == 400, response.content
    assert "error" in response.json()


@pytest.mark.parametrize("raw", [b"{", b"\xff\xfe", b"", b"1e999999"])
def test_an_unparsable_body_gets_400(register, node_client, raw):
    _, key = register()
    assert node_client(key).post(None, raw=raw).status_code == 400


def test_status_follows_from_the_deadlines(register):
    node, _ = register()
    beat = services.Heartbeat(1, "s", timezone.now(), 0, 0, 0, 0, True, 1.0)
    now = timezone.now()
    services.record_heartbeat(node, beat, now=now)
    node.refresh_from_db()
    assert node.status_at(now + timedelta(seconds=5)) == NodeStatus.ONLINE
    assert node.status_at(now + timedelta(seconds=30)) == NodeStatus.STALE
    assert node.status_at(now + timedelta(seconds=61)) == NodeStatus.OFFLINE
    assert Node.objects.get(pk=node.pk).status_at(now + timedelta(days=1)) == NodeStatus.OFFLINE


def test_a_steady_heartbeat_takes_three_statements_assigned_or_idle(
    register, node_client, stream_and_key, post_srs, django_assert_num_queries
):
    _idle, idle_key = register("idle")
    idle_agent = node_client(idle_key)
    idle_agent.beat()
    # Locking lookup + node update + bucket upsert, whatever the batch's size, + the savepoint pair
    # of the test's transaction (inside a caller's transaction the commit is not relaxed).
    statements = 5
    with django_assert_num_queries(statements):
        assert idle_agent.beat().json()["assignment"] is None
    post_srs(srs_payload("on_publish", key=stream_and_key[1]))
    with django_assert_num_queries(statements):
        assert idle_agent.beat().json()["assignment"]["stream"] == "alice"


def test_me_tells_a_node_its_state(client, register, node_client):
    node, key = register()
    node_client(key).beat()
    body = client.get("/api/v1/nodes/me", HTTP_AUTHORIZATION=f"Bearer {key}").json()
    assert body["node_id"] == node.pk and body["status"] == "online" and body["assignment"] is None
    assert client.get("/api/v1/nodes/me", HTTP_AUTHORIZATION="Bearer nk_x").status_code == 401


def test_deeply_nested_or_surrogate_bodies_get_400(register, node_client):
    _, key = register()
    agent = node_client(key)
    assert agent.post(None, raw=b"[" * 200_000).status_code == 400
    raw = json.dumps(beat_body(agent_session="s\udfff")).encode()
    assert agent.post(None, raw=raw).status_code == 400


def test_a_late_beat_of_a_replaced_agent_session_is_not_credited_again(register, node_client):
    node, key = register()
    old = node_client(key)
    old.beat(counters=counters(50_000))
    new = node_client(key)  # the agent restarted: a later session
    new.beat(counters=counters(1_000))
    late = old.beat(counters=counters(50_000)).json()
    assert late["accepted"] is False and late["clamped"] == ["agent session replaced"]
    new.beat(counters=counters(2_000))
    assert NodeMinute.objects.get(node=node).bytes_served == 52_000


def test_a_counter_going_backwards_in_a_session_is_credited_nothing_and_flagged(register, node_client):
    node, key = register()
    agent = node_client(key)
    agent.beat(counters=counters(1_000_000))
    for value in (999_999, 999_998):
        body = agent.beat(counters=counters(value)).json()
        assert any("went backwards" in c for c in body["clamped"])
    agent.beat(counters=counters(1_000_500))
    node.refresh_from_db()
    assert NodeMinute.objects.get(node=node).bytes_served == 1_000_000 + (1_000_500 - 999_998)
    assert node.anomalies == 2


def test_an_absurd_total_cannot_make_the_next_honest_beat_count_twice(register, node_client, settings):
    settings.NODE_MAX_UPLINK_MBPS = 8  # 10 MB per 10 s interval
    node, key = register()
    agent = node_client(key)
    agent.beat(counters=counters(2**62))
    agent.beat(counters=counters(5_000))  # honest value, below the stored (clamped) total
    agent.beat(counters=counters(6_000))
    assert NodeMinute.objects.get(node=node).bytes_served == 10_000_000 + 1_000


def test_a_heartbeat_cannot_move_the_node_to_a_private_address_in_production(register, node_client, settings):
    node, key = register()
    settings.NODE_ALLOW_PRIVATE_URLS = False
    assert node_client(key).beat(public_url="http://127.0.0.1:22/").status_code == 400
    node.refresh_from_db()
    assert node.public_url == "http://n1.example:8090"


def test_a_boolean_is_not_a_segment_age(register, node_client):
    _, key = register()
    assert node_client(key).beat(relay={"ffmpeg_running": True, "newest_segment_age": True}).status_code == 400
