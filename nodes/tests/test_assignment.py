"""Assignment: approved online nodes relay live streams; withdrawn when a stream ends."""

from __future__ import annotations

import pytest

from nodes import services
from nodes.models import Node
from streams import services as stream_services
from streams.models import Stream
from streams.tests.hook_clients import srs_payload

pytestmark = pytest.mark.django_db


def go_live(post_srs, slug, key, client_id=None):
    assert post_srs(srs_payload("on_publish", stream=slug, key=key, client_id=client_id or slug)).status_code == 200


def test_an_online_node_is_assigned_when_a_stream_goes_live(register, node_client, stream_and_key, post_srs):
    _node, api_key = register()
    agent = node_client(api_key)
    assert agent.beat().json()["assignment"] is None
    go_live(post_srs, "alice", stream_and_key[1])
    assignment = agent.beat().json()["assignment"]
    assert assignment == {"stream": "alice", "origin_rtmp_url": "rtmp://127.0.0.1:1935/live/alice"}


def test_a_node_that_comes_online_during_a_live_stream_gets_it_at_its_first_heartbeat(
    register, node_client, stream_and_key, post_srs
):
    go_live(post_srs, "alice", stream_and_key[1])
    _, api_key = register()
    assert node_client(api_key).beat().json()["assignment"]["stream"] == "alice"


def test_the_assignment_is_withdrawn_when_the_stream_ends(register, node_client, stream_and_key, post_srs):
    _, api_key = register()
    agent = node_client(api_key)
    agent.beat()
    go_live(post_srs, "alice", stream_and_key[1])
    post_srs(srs_payload("on_unpublish", client_id="alice"))
    assert agent.beat().json()["assignment"] is None


def test_pending_and_suspended_nodes_get_no_assignment(register, node_client, stream_and_key, post_srs, settings):
    settings.NODE_APPROVAL_REQUIRED = True
    pending, pending_key = register("pending")
    settings.NODE_APPROVAL_REQUIRED = False
    suspended, suspended_key = register("suspended")
    go_live(post_srs, "alice", stream_and_key[1])
    node_client(suspended_key).beat()
    services.suspend(Node.objects.filter(pk=suspended.pk))
    assert node_client(pending_key).beat().json()["assignment"] is None
    answer = node_client(suspended_key).beat().json()
    assert answer["assignment"] is None and answer["approval"] == "suspended"
    services.approve(Node.objects.filter(pk=pending.pk))
    assert Node.objects.get(pk=pending.pk).assigned_stream.slug == "alice"  # at once, while online
    assert node_client(pending_key).beat().json()["assignment"]["stream"] == "alice"


def test_nodes_spread_over_concurrent_streams_and_pinned_nodes_stay_home(register, node_client, make_stream, post_srs):
    _, alice_key = make_stream("alice")
    bob, bob_key = make_stream("bob")
    go_live(post_srs, "alice", alice_key)
    go_live(post_srs, "bob", bob_key)
    pinned, pinned_key = register("pinned")
    services.pin(pinned, bob)
    assert node_client(pinned_key).beat().json()["assignment"]["stream"] == "bob"
    relays = [node_client(register(f"n{i}")[1]).beat().json()["assignment"]["stream"] for i in range(3)]
    assert sorted(relays) == ["alice", "alice", "bob"]  # the least-served stream first


def test_a_stream_going_live_later_gets_its_share_of_busy_nodes(register, node_client, make_stream, post_srs, client):
    _, alice_key = make_stream("alice")
    _, bob_key = make_stream("bob")
    go_live(post_srs, "alice", alice_key)
    agents = [node_client(register(f"n{i}")[1]) for i in range(4)]
    assert {a.beat().json()["assignment"]["stream"] for a in agents} == {"alice"}
    go_live(post_srs, "bob", bob_key)
    counts = {s["stream_id"]: s["node_count"] for s in client.get("/dashboard").json()["streams"]}
    assert counts == {"alice": 2, "bob": 2}
    assert sorted(a.beat().json()["assignment"]["stream"] for a in agents) == ["alice", "alice", "bob", "bob"]


def test_pinning_a_node_moves_it_to_its_stream(register, node_client, make_stream, post_srs):
    _, alice_key = make_stream("alice")
    bob, bob_key = make_stream("bob")
    go_live(post_srs, "alice", alice_key)
    node, api_key = register()
    agent = node_client(api_key)
    assert agent.beat().json()["assignment"]["stream"] == "alice"
    services.pin(node, bob)
    assert agent.beat().json()["assignment"] is None  # bob is not live: nothing to relay
    go_live(post_srs, "bob", bob_key)
    assert agent.beat().json()["assignment"]["stream"] == "bob"


def test_a_stream_deactivated_while_live_stays_listed_and_relayed_until_it_ends(
    register, node_client, stream_and_key, post_srs, client
):
    stream, key = stream_and_key
    go_live(post_srs, "alice", key)
    _, api_key = register()
    node_client(api_key).beat()
    stream_services.set_active(Stream.objects.filter(pk=stream.pk), active=False)
    assert client.get("/dashboard").json()["streams"][0]["node_count"] == 1


def test_released_nodes_move_to_another_live_stream(register, node_client, make_stream, post_srs):
    _, alice_key = make_stream("alice")
    _, bob_key = make_stream("bob")
    go_live(post_srs, "alice", alice_key)
    _, api_key = register()
    agent = node_client(api_key)
    assert agent.beat().json()["assignment"]["stream"] == "alice"
    go_live(post_srs, "bob", bob_key)
    post_srs(srs_payload("on_unpublish", stream="alice", client_id="alice"))
    assert agent.beat().json()["assignment"]["stream"] == "bob"
