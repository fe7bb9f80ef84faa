"""Where a probe's verdict shows: GET /api/v1/nodes/me (what `streamr-node status` prints), its
OpenAPI schema, and a live push to the owner's open pages."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from core import live
from validation import reachability
from validation.tests.reach_servers import Agent, closed_port


@pytest.fixture(autouse=True)
def _local_nodes(settings):
    settings.REACHABILITY_TIMEOUT_SECONDS = 0.3
    settings.NODE_ALLOW_PRIVATE_URLS = True


def state_of(client, api_key: str) -> dict:
    response = client.get("/api/v1/nodes/me", HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert response.status_code == 200
    return response.json()


@pytest.mark.django_db
def test_the_node_api_says_not_checked_yet_before_any_probe(client, register):
    _, api_key = register("home")
    assert state_of(client, api_key)["reachability"] == {
        "ok": False,
        "verdict": "unknown",
        "detail": "not checked yet",
        "checked_at": None,
    }


@pytest.mark.django_db
def test_the_node_api_answers_the_newest_probe_with_its_advice(client, register, tmp_path):
    node, api_key = register("home", public_url=closed_port())
    reachability.probe(node, "first_heartbeat")
    refused = state_of(client, api_key)["reachability"]
    assert (refused["ok"], refused["verdict"]) == (False, "refused")
    assert "forward TCP port" in refused["detail"] and refused["checked_at"]
    with Agent(tmp_path, node.pk).running() as url:
        node.public_url = url
        node.save(update_fields=["public_url"])
        newest = reachability.probe(node, "owner")
    reached = state_of(client, api_key)["reachability"]
    assert (reached["ok"], reached["verdict"]) == (True, "ok")
    assert reached["checked_at"] == newest.checked_at.isoformat().replace("+00:00", "Z")
    assert "staff_detail" not in reached


@pytest.mark.django_db
def test_the_schema_declares_reachability_and_earning_on_the_nodes_state(client):
    schema = client.get("/api/schema/?format=json").json()
    state = schema["components"]["schemas"]["NodeState"]["properties"]
    reach = schema["components"]["schemas"][state["reachability"]["allOf"][0]["$ref"].rsplit("/", 1)[1]]
    assert set(reach["properties"]) == {"ok", "verdict", "detail", "checked_at"}
    assert reach["properties"]["checked_at"]["nullable"] is True
    earning = schema["components"]["schemas"][state["earning"]["allOf"][0]["$ref"].rsplit("/", 1)[1]]
    assert set(earning["properties"]) == {"ok", "why"}


@pytest.mark.django_db(transaction=True)  # the push goes out after commit
def test_a_probe_is_pushed_live_to_the_nodes_owner_only(register, friend, outsider):
    node, _ = register("home", public_url=closed_port())
    layer = get_channel_layer()
    live.mark_present(friend.pk)
    live.mark_present(outsider.pk)

    async def go() -> None:
        await layer.group_add(live.user_group(friend.pk), "test.owner")
        await layer.group_add(live.user_group(outsider.pk), "test.outsider")
        await database_sync_to_async(reachability.probe)(node, "owner")
        message = await asyncio.wait_for(layer.receive("test.owner"), timeout=2)
        assert message["kind"] == "node.reachability"
        assert {k: message["data"][k] for k in ("node_id", "ok", "verdict")} == {
            "node_id": node.pk,
            "ok": False,
            "verdict": "refused",
        }
        assert "forward TCP port" in message["data"]["detail"]
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(layer.receive("test.outsider"), timeout=0.3)

    async_to_sync(go)()
