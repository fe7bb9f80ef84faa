"""/dashboard privacy (issue 17): anonymous callers see node ids, statuses and counts, never a node's
name or public URL (often a friend's own name and home address); any signed-in account sees both.
The live pushes follow the same rule: anonymous sockets get nothing, and what goes to every
signed-in user's socket names no node."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from core import live
from core.live import PUBLIC_GROUP
from nodes.tests.fixtures import NodeClient
from streamrp2p_site.asgi import application
from streams.tests.hook_clients import srs_payload

NAME = "friends-den"
HOST = "home-of-friend.example"


@pytest.fixture
def relaying(register: Any, node_client: Any, stream_and_key: Any, post_srs: Any, friend: Any) -> Any:
    """The friend's node "friends-den" at their home address, relaying the live stream 'alice'."""
    assert post_srs(srs_payload("on_publish", stream="alice", key=stream_and_key[1], client_id="c")).status_code == 200
    node, key = register(NAME, user=friend, public_url=f"http://{HOST}:8090")
    assert node_client(key).beat().status_code == 200
    return node


@pytest.mark.django_db
def test_anonymous_callers_see_node_ids_and_counts_but_no_name_or_url(client, relaying):
    response = client.get("/dashboard")
    assert response.status_code == 200
    text = response.content.decode()
    assert NAME not in text and HOST not in text and "8090" not in text
    (entry,) = response.json()["streams"]
    assert (entry["stream_id"], entry["node_count"]) == ("alice", 1)
    (relay,) = entry["nodes"]
    # The shape tools read stays: the same keys, a placeholder name, an empty URL.
    assert set(relay) == {"node_id", "name", "status", "hls_url", "last_seen_at"}
    assert (relay["node_id"], relay["name"], relay["hls_url"], relay["status"]) == (
        relaying.pk,
        f"node #{relaying.pk}",
        "",
        "online",
    )


@pytest.mark.django_db
def test_any_signed_in_account_sees_names_and_urls(client, relaying, outsider):
    client.force_login(outsider)  # not the node's owner: any account will do
    (relay,) = client.get("/dashboard").json()["streams"][0]["nodes"]
    assert relay["name"] == NAME and relay["hls_url"] == f"http://{HOST}:8090/hls/alice/index.m3u8"


@pytest.mark.django_db
def test_a_login_that_no_longer_stands_sees_what_anonymous_callers_see(client, relaying, outsider):
    client.force_login(outsider)
    type(outsider).objects.filter(pk=outsider.pk).update(is_active=False)
    response = client.get("/dashboard")
    assert response.status_code == 200  # a public page: an old session is never a 403 here
    assert NAME not in response.content.decode() and HOST not in response.content.decode()


# --- Live pushes: the consumer reads the database from its own thread, so the data is committed.


def cookie_of(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def socket_for(cookie: str | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://localhost")]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    return WebsocketCommunicator(application, "/ws/live", headers=headers)


def run(test: Callable[[], Any]) -> None:
    async_to_sync(test)()


def go_live_and_beat(api_key: str, key: str) -> None:
    """A stream going live (a push to every signed-in user) and a heartbeat of the friend's node
    (a push to its owner, who has a dashboard open)."""
    hook = f"/hooks/srs?secret={settings.HOOK_SECRET}"
    body = srs_payload("on_publish", stream="alice", key=key, client_id="c")
    assert Client().post(hook, body, content_type="application/json").json() == {"code": 0}
    assert NodeClient(Client(), api_key).beat(viewers=2).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_an_anonymous_socket_gets_no_live_update_at_all(register, friend, stream_and_key):
    _, api_key = register(NAME, user=friend, public_url=f"http://{HOST}:8090")
    live.mark_present(friend.pk)

    async def go():
        socket = socket_for(None)
        assert (await socket.connect())[0]
        assert await socket.receive_output(timeout=1) == {"type": "websocket.close", "code": 4401}
        await database_sync_to_async(go_live_and_beat)(api_key, stream_and_key[1])
        assert await socket.receive_nothing(timeout=0.5)

    run(go)


@pytest.mark.django_db(transaction=True)
def test_what_goes_to_every_signed_in_user_names_no_node_while_the_owner_sees_its_name(
    register, friend, outsider, stream_and_key
):
    node, api_key = register(NAME, user=friend, public_url=f"http://{HOST}:8090")
    friend_cookie, outsider_cookie = cookie_of(friend), cookie_of(outsider)
    layer = get_channel_layer()

    async def go():
        await layer.group_add(PUBLIC_GROUP, "test.public")  # everything broadcast, as the layer carries it
        owner, other = socket_for(friend_cookie), socket_for(outsider_cookie)
        for socket in (owner, other):
            assert (await socket.connect())[0]
            assert (await socket.receive_json_from(timeout=2))["kind"] == "hello"
        await database_sync_to_async(go_live_and_beat)(api_key, stream_and_key[1])
        owners = [await owner.receive_json_from(timeout=1) for _ in range(2)]
        beat = next(e for e in owners if e["kind"] == "node.heartbeat")
        assert (beat["data"]["node_id"], beat["data"]["name"]) == (node.pk, NAME)
        others = [await other.receive_json_from(timeout=1)]
        assert await other.receive_nothing(timeout=0.5)
        broadcast = [await asyncio.wait_for(layer.receive("test.public"), timeout=1)]
        while True:
            try:
                broadcast.append(await asyncio.wait_for(layer.receive("test.public"), timeout=0.3))
            except TimeoutError:
                break
        assert [m["kind"] for m in broadcast] == ["stream.state"] and [e["kind"] for e in others] == ["stream.state"]
        assert NAME not in repr(broadcast + others) and HOST not in repr(broadcast + others)
        await layer.group_discard(PUBLIC_GROUP, "test.public")
        await owner.disconnect()
        await other.disconnect()

    run(go)
