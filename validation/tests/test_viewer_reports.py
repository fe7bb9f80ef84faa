"""Viewers attest delivery: the playback API hands a ticket naming the node, and the watch page
reports the segments it loaded from it. Only valid, live, bounded, first-time reports count."""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta

import pytest
from django.core import signing
from django.core.cache import cache
from django.utils import timezone

from core import outages
from nodes.models import Node
from streams.models import StreamSession
from validation import services
from validation.models import AttestedMinute, DeliveredSegment
from validation.tests.playback_helpers import relaying

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(live_alice):
    return live_alice


def verified(node: Node, stream) -> Node:
    """Online, relaying ``stream`` and passed a check on its playlist URL: playback routes to it."""
    return relaying(node, stream)


def ticket_for(client, node: Node) -> str:
    body = client.get("/api/v1/streams/alice/playback").json()
    assert body["source"] == "node" and body["node_id"] == node.pk
    return body["ticket"]


def segment(node: Node, name: str, size: int = 1_000_000) -> dict:
    return {
        "url": f"{node.public_url}/hls/alice/{name}.ts",
        "bytes": size,
        "sha256": hashlib.sha256(name.encode()).hexdigest(),
    }


def report(client, ticket: str, *segments: dict, fresh: bool = True):
    if fresh:
        cache.clear()  # a new report window (the per-ticket rate limit has its own test)
    return client.post(
        "/api/v1/playback/reports", {"ticket": ticket, "segments": list(segments)}, content_type="application/json"
    )


def attested_bytes(node: Node) -> int:
    return sum(AttestedMinute.objects.filter(node=node).values_list("bytes", flat=True))


def test_a_viewer_routed_to_a_node_gets_a_ticket_and_its_report_moves_the_nodes_attested_bytes(client, alice, register):
    node = verified(register("den")[0], alice)
    ticket = ticket_for(client, node)
    response = report(client, ticket, segment(node, "seg1"), segment(node, "seg2", 500_000))
    assert response.status_code == 200, response.json()
    assert response.json()["accepted"] == 2 and response.json()["bytes"] == 1_500_000
    assert attested_bytes(node) == 1_500_000
    assert DeliveredSegment.objects.filter(node=node).count() == 2


def test_the_origin_fallback_comes_with_a_ticket_that_pays_no_node(client, alice):
    body = client.get("/api/v1/streams/alice/playback").json()
    assert body["source"] == "origin" and services.read_ticket(body["ticket"]).node_id == 0


def test_a_replayed_report_adds_nothing(client, alice, register):
    node = verified(register("den")[0], alice)
    ticket = ticket_for(client, node)
    assert report(client, ticket, segment(node, "seg1")).json()["accepted"] == 1
    again = report(client, ticket, segment(node, "seg1"), segment(node, "seg1"))
    assert again.status_code == 200 and again.json()["accepted"] == 0
    assert attested_bytes(node) == 1_000_000


def test_a_forged_ticket_is_refused(client, alice, register):
    node = verified(register("den")[0], alice)
    ticket = ticket_for(client, node)
    forged = signing.dumps({"t": "x", "n": node.pk, "s": alice.pk, "ss": 1, "at": int(time.time())}, salt="other")
    for bad in (forged, ticket[:-2] + "xx", "not-a-ticket"):
        response = report(client, bad, segment(node, "seg1"))
        assert response.status_code == 401 and response.json()["error"]["code"] == "bad_ticket"
    assert attested_bytes(node) == 0


def test_an_expired_ticket_is_refused(client, alice, register, settings, monkeypatch):
    settings.PLAYBACK_TICKET_SECONDS = 60
    node = verified(register("den")[0], alice)
    issued = time.time() - 61
    monkeypatch.setattr(time, "time", lambda: issued)  # the ticket was handed out a minute ago
    ticket = ticket_for(client, node)
    monkeypatch.undo()
    response = report(client, ticket, segment(node, "seg1"))
    assert response.status_code == 401 and response.json()["error"]["code"] == "ticket_expired"


def test_reports_renew_a_ticket_past_half_its_life(client, alice, register, settings, monkeypatch):
    settings.PLAYBACK_TICKET_SECONDS = 60
    node = verified(register("den")[0], alice)
    issued = time.time() - 40
    monkeypatch.setattr(time, "time", lambda: issued)
    old = ticket_for(client, node)
    monkeypatch.undo()
    renewed = report(client, old, segment(node, "seg1")).json()["ticket"]
    assert renewed != old
    assert report(client, renewed, segment(node, "seg1")).json()["accepted"] == 0  # the same viewer
    assert report(client, renewed, segment(node, "seg2")).json()["accepted"] == 1


def test_a_ticket_attests_only_its_own_node_and_stream(client, alice, register):
    mine = verified(register("mine")[0], alice)
    other, _ = register("other")
    ticket = ticket_for(client, mine)
    foreign = [
        segment(other, "seg1"),  # another node's segment
        {**segment(mine, "seg2"), "url": f"{mine.public_url}/hls/bob/seg2.ts"},  # another stream
        {**segment(mine, "seg3"), "url": f"{mine.public_url}/hls/alice/../../etc/passwd"},
        {**segment(mine, "seg4"), "url": f"{mine.public_url}/hls/alice/index.m3u8"},  # not a segment
    ]
    response = report(client, ticket, *foreign)
    assert response.status_code == 200 and response.json()["accepted"] == 0
    assert attested_bytes(mine) == attested_bytes(other) == 0


def test_reports_after_the_live_session_ended_are_refused(client, alice, register, post_srs):
    node = verified(register("den")[0], alice)
    ticket = ticket_for(client, node)
    StreamSession.objects.update(ended_at=timezone.now())
    response = report(client, ticket, segment(node, "seg1"))
    assert response.status_code == 409 and response.json()["error"]["code"] == "session_ended"


def test_one_report_per_ticket_every_few_seconds(client, alice, register):
    node = verified(register("den")[0], alice)
    ticket = ticket_for(client, node)
    assert report(client, ticket, segment(node, "seg1")).status_code == 200
    too_soon = report(client, ticket, segment(node, "seg2"), fresh=False)
    assert too_soon.status_code == 429 and too_soon.json()["error"]["code"] == "rate_limited"
    assert attested_bytes(node) == 1_000_000


def test_a_report_counts_with_redis_down_and_a_replay_still_adds_nothing(client, alice, register, settings):
    node = verified(register("den")[0], alice)
    ticket = ticket_for(client, node)  # issued while the cache answers
    settings.CACHES = {  # then the cache's Redis is gone: nothing listens on port 1
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    outages.reset()
    try:
        first = report(client, ticket, segment(node, "seg1"), fresh=False)
        again = report(client, ticket, segment(node, "seg1"), fresh=False)  # the per-ticket limit fails open
    finally:
        outages.reset()
    assert first.status_code == 200 and first.json()["accepted"] == 1
    assert again.status_code == 200 and again.json()["accepted"] == 0  # counted once by the database
    assert attested_bytes(node) == 1_000_000


def test_a_ticket_attests_at_most_what_one_viewer_can_draw_in_a_minute(client, alice, register, settings):
    settings.FRAUD_MAX_BYTES_PER_VIEWER_MINUTE = 3_000_000
    node = verified(register("den")[0], alice)
    ticket = ticket_for(client, node)
    body = report(client, ticket, *(segment(node, f"seg{i}", 1_000_000) for i in range(5))).json()
    assert body["accepted"] == 3 and attested_bytes(node) == 3_000_000
    assert report(client, ticket, segment(node, "seg9")).json()["accepted"] == 0  # the same minute


def test_bad_bodies_get_a_clear_400(client, alice, register):
    node = verified(register("den")[0], alice)
    ticket = ticket_for(client, node)
    for body in (
        {},
        {"ticket": ticket, "segments": "no"},
        {"ticket": ticket, "segments": [{**segment(node, "s"), "sha256": "XYZ"}]},
        {"ticket": ticket, "segments": [{**segment(node, "s"), "bytes": -1}]},
        {"ticket": ticket, "segments": [segment(node, f"s{i}") for i in range(31)]},
    ):
        response = client.post("/api/v1/playback/reports", body, content_type="application/json")
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "invalid"


def test_old_per_segment_reports_are_pruned_and_the_minute_sums_stay(client, alice, register):
    node = verified(register("den")[0], alice)
    report(client, ticket_for(client, node), segment(node, "seg1"))
    DeliveredSegment.objects.update(reported_at=timezone.now() - timedelta(days=2))
    assert services.delivery.prune_deliveries() == 1
    assert not DeliveredSegment.objects.exists() and attested_bytes(node) == 1_000_000


def test_a_report_claiming_more_bytes_than_the_checker_fetched_is_cut_back(client, alice, register):
    node = verified(register("den")[0], alice)
    honest, inflated = segment(node, "seg_7"), {**segment(node, "seg_7"), "bytes": 30_000_000}
    report(client, ticket_for(client, node), honest)
    report(client, ticket_for(client, node), inflated)
    assert attested_bytes(node) == 31_000_000
    # The checker fetched seg_7 from the node: these bytes, this many of them.
    taken = services.delivery.correct_sizes(node, {honest["url"]: (honest["sha256"], 1_000_000)})
    assert taken == 29_000_000 and attested_bytes(node) == 2_000_000
    assert services.delivery.correct_sizes(node, {honest["url"]: (honest["sha256"], 1_000_000)}) == 0  # once


def test_a_node_with_a_long_public_url_is_attested_like_any_other(client, alice, register):
    long_url = "http://" + "relay-" * 30 + "x.example:8090"  # 200 characters, the longest allowed
    node = verified(register("far", public_url=long_url[:200])[0], alice)
    longest = {**segment(node, "s" * 97), "bytes": 1000}
    assert len(longest["url"]) > 300
    assert report(client, ticket_for(client, node), longest).json()["accepted"] == 1
