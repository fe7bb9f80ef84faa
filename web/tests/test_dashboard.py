"""/dashboard: the live streams and the nodes relaying each, public, documented in /api/schema/.
(What anonymous callers may not see: test_dashboard_privacy.py.)"""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from django.core.management import call_command

from nodes import services as node_services
from nodes.models import Node
from streams.tests.hook_clients import srs_payload

pytestmark = pytest.mark.django_db


def go_live(post_srs, slug, key):
    assert post_srs(srs_payload("on_publish", stream=slug, key=key, client_id=slug)).status_code == 200


def test_the_dashboard_lists_the_nodes_relaying_each_live_stream(
    client, register, node_client, stream_and_key, post_srs, friend
):
    client.force_login(friend)  # names and URLs are for signed-in users
    go_live(post_srs, "alice", stream_and_key[1])
    first, first_key = register("n1")
    second, second_key = register("n2")
    node_client(first_key).beat()
    node_client(second_key).beat()
    body = client.get("/dashboard").json()
    (entry,) = body["streams"]
    assert entry["stream_id"] == "alice" and entry["title"] == "Alice live" and entry["node_count"] == 2
    assert [n["node_id"] for n in entry["nodes"]] == [first.pk, second.pk]
    assert entry["nodes"][0]["hls_url"] == "http://n1.example:8090/hls/alice/index.m3u8"
    assert entry["nodes"][0]["status"] == "online" and entry["nodes"][0]["name"] == "n1"


def test_keeps_the_shape_tools_read_with_python_iso_times(client, register, node_client, stream_and_key, post_srs):
    go_live(post_srs, "alice", stream_and_key[1])
    node, key = register("n1")
    node_client(key).beat()
    body = client.get("/dashboard").json()
    assert set(body) == {"generated_at", "streams"}
    assert set(body["streams"][0]) == {"stream_id", "title", "node_count", "nodes"}
    (relay,) = body["streams"][0]["nodes"]
    assert set(relay) == {"node_id", "name", "status", "hls_url", "last_seen_at"}
    node.refresh_from_db()
    assert relay["last_seen_at"] == node.last_seen_at.isoformat() and relay["last_seen_at"].endswith("+00:00")
    assert datetime.fromisoformat(body["generated_at"]) >= node.last_seen_at


def test_leaves_out_suspended_and_offline_nodes_and_offline_streams(
    client, register, node_client, make_stream, post_srs, friend
):
    client.force_login(friend)
    _, alice_key = make_stream("alice")
    make_stream("bob")  # never goes live
    go_live(post_srs, "alice", alice_key)
    _, kept_key = register("kept")
    gone, gone_key = register("gone")
    banned, banned_key = register("banned")
    for key in (kept_key, gone_key, banned_key):
        node_client(key).beat()
    Node.objects.filter(pk=gone.pk).update(offline_after=gone.created_at)
    node_services.suspend(Node.objects.filter(pk=banned.pk), reason="test")
    (entry,) = client.get("/dashboard").json()["streams"]
    assert entry["stream_id"] == "alice" and [n["name"] for n in entry["nodes"]] == ["kept"]


def test_nobody_needs_to_sign_in_to_read_it(client):
    response = client.get("/dashboard")
    assert response.status_code == 200 and response.json()["streams"] == []


def test_answers_json_whatever_the_client_accepts(client):
    response = client.get("/dashboard", HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json()["streams"] == []


def test_is_described_in_the_openapi_schema(client):
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=io.StringIO(), stderr=io.StringIO())
    schema = client.get("/api/schema/?format=json").json()
    assert "/dashboard" in schema["paths"]
    answer = schema["paths"]["/dashboard"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/Dashboard"}
    streams = schema["components"]["schemas"]["LiveStream"]["properties"]
    assert {"stream_id", "title", "node_count", "nodes"} <= set(streams)
    assert schema["components"]["schemas"]["RelayingNode"]["properties"]["last_seen_at"]["format"] == "date-time"
