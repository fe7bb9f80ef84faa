"""The live websocket: signed-in users only, each gets their own events and public ones, nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from core import live
from core.live import PUBLIC_GROUP
from nodes.tests.fixtures import NodeClient
from rewards import services as reward_services
from rewards.services import hour_start, settle_hour
from rewards.tests.helpers import origin_alive, relayed
from streamrp2p_site.asgi import application
from streams.models import Origin, StreamSession
from streams.tests.hook_clients import srs_payload
from validation import checks
from validation import services as validation_services
from validation.models import Outcome
from validation.services import spotchecks

# The consumer reads the database from its own thread: the test data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


def cookie_of(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def open_socket(cookie: str | None = None, origin: bytes = b"http://localhost") -> WebsocketCommunicator:
    headers = [(b"origin", origin)]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    return WebsocketCommunicator(application, "/ws/live", headers=headers)


async def connected(cookie: str) -> WebsocketCommunicator:
    socket = await open_socket(cookie)
    ok, _ = await socket.connect()
    assert ok
    assert (await socket.receive_json_from(timeout=2))["kind"] == "hello"
    return socket


def run(test: Callable[[], Any]) -> None:
    async_to_sync(test)()


def test_refuses_a_socket_without_a_signed_in_user():
    async def go():
        socket = await open_socket()
        assert (await socket.connect())[0]  # accepted, then closed with a code the page understands
        assert await socket.receive_output(timeout=1) == {"type": "websocket.close", "code": 4401}

    run(go)


def test_refuses_a_socket_opened_from_another_site(friend):
    cookie = cookie_of(friend)

    async def go():
        socket = await open_socket(cookie, origin=b"http://evil.example")
        ok, _ = await socket.connect()
        assert not ok

    run(go)


def test_a_heartbeat_reaches_its_owner_and_nobody_else(friend, outsider, register):
    node, api_key = register("den", user=friend)
    friend_cookie, outsider_cookie = cookie_of(friend), cookie_of(outsider)

    async def go():
        mine, theirs = await connected(friend_cookie), await connected(outsider_cookie)
        answer = await database_sync_to_async(lambda: NodeClient(Client(), api_key).beat(viewers=3))()
        assert answer.status_code == 200
        event = await mine.receive_json_from(timeout=1)  # within a second of the heartbeat
        assert event["kind"] == "node.heartbeat"
        assert (event["data"]["node_id"], event["data"]["status"], event["data"]["viewers"]) == (node.pk, "online", 3)
        assert await theirs.receive_nothing(timeout=0.5)
        await mine.disconnect()
        await theirs.disconnect()

    run(go)


def test_a_stream_going_live_reaches_every_signed_in_user(friend, outsider, make_stream):
    _, key = make_stream("alice")
    cookies = [cookie_of(friend), cookie_of(outsider)]

    async def go():
        sockets = [await connected(cookie) for cookie in cookies]
        client = Client()
        hook = f"/hooks/srs?secret={settings.HOOK_SECRET}"
        body = srs_payload("on_publish", key=key)
        response = await database_sync_to_async(lambda: client.post(hook, body, content_type="application/json"))()
        assert response.json() == {"code": 0}
        for socket in sockets:
            event = await socket.receive_json_from(timeout=1)
            assert (event["kind"], event["data"]["slug"], event["data"]["live"]) == ("stream.state", "alice", True)
            await socket.disconnect()

    run(go)


def test_payout_changes_reach_only_the_friend_concerned(friend, outsider, admin_user):
    reward_services.add_correction(friend.pk, reward_services.parse_amount("20.00"), actor=admin_user, memo="t")
    reward_services.set_payout_method(friend, kind="paypal", address="friend@example.com")
    friend_cookie, outsider_cookie = cookie_of(friend), cookie_of(outsider)

    async def go():
        mine, theirs = await connected(friend_cookie), await connected(outsider_cookie)
        await database_sync_to_async(lambda: reward_services.request_payout(friend, "15.00"))()
        event = await mine.receive_json_from(timeout=1)
        assert event["kind"] == "payout.changed" and event["data"]["status"] == "requested"
        assert event["data"]["balance"] == "20.00"
        assert await theirs.receive_nothing(timeout=0.5)
        await mine.disconnect()
        await theirs.disconnect()

    run(go)


def test_an_event_for_another_user_is_dropped_even_on_a_shared_group(friend, outsider):
    cookie = cookie_of(friend)

    async def go():
        socket = await connected(cookie)
        layer = get_channel_layer()
        await layer.group_send(PUBLIC_GROUP, {"type": "live.event", "audience": outsider.pk, "kind": "x", "data": {}})
        assert await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()

    run(go)


def test_a_user_deactivated_while_connected_is_disconnected_at_the_next_event(friend, register):
    _, api_key = register("den", user=friend)
    cookie = cookie_of(friend)

    async def go():
        socket = await connected(cookie)
        await database_sync_to_async(lambda: type(friend).objects.filter(pk=friend.pk).update(is_active=False))()
        await database_sync_to_async(lambda: NodeClient(Client(), api_key).beat())()
        closed = await socket.receive_output(timeout=1)
        assert closed == {"type": "websocket.close", "code": 4403}

    run(go)


def test_the_socket_answers_pings(friend):
    cookie = cookie_of(friend)

    async def go():
        socket = await connected(cookie)
        await socket.send_json_to({"kind": "ping"})
        assert (await socket.receive_json_from(timeout=1))["kind"] == "pong"
        await socket.disconnect()

    run(go)


def test_a_socket_stops_receiving_once_its_login_ends(friend, register):
    _, api_key = register("den", user=friend)
    cookie = cookie_of(friend)

    async def go():
        socket = await connected(cookie)
        friend.set_password("a-brand-new-pass-77")  # e.g. after a stolen session: the old login ends
        await database_sync_to_async(friend.save)()
        await database_sync_to_async(lambda: NodeClient(Client(), api_key).beat())()
        assert await socket.receive_output(timeout=1) == {"type": "websocket.close", "code": 4403}

    run(go)


def test_spot_check_verdicts_and_credits_reach_only_their_friend(friend, outsider, register, make_stream):
    node, _ = register("den", user=friend)
    stream, _ = make_stream("alice", reward_rate_per_hour=Decimal("6.00"))
    hour = hour_start(timezone.now()) - timedelta(hours=2)
    StreamSession.objects.create(
        stream=stream, origin=Origin.SRS, client_id="c", started_at=hour, ended_at=hour + timedelta(minutes=30)
    )
    relayed(node, stream, hour, range(30))
    origin_alive(stream, hour, range(30))
    friend_cookie, outsider_cookie = cookie_of(friend), cookie_of(outsider)

    def check_then_settle() -> None:
        # The verdict path of validation.services.spot_check, with a node that served stale frames.
        found = checks.Inspection(node_prints=[b"x"], evidence={"playlist": node.hls_url("alice")})
        spotchecks._record(node, stream, found, validation_services.Judgement(Outcome.STALE, 0.0, 0, 1), "test")
        settle_hour(hour)

    async def go():
        mine, theirs = await connected(friend_cookie), await connected(outsider_cookie)
        await database_sync_to_async(check_then_settle)()
        verdict = await mine.receive_json_from(timeout=1)
        assert (verdict["kind"], verdict["data"]["node_id"], verdict["data"]["passed"]) == (
            "spotcheck.verdict",
            node.pk,
            False,
        )
        credit = await mine.receive_json_from(timeout=1)
        assert (credit["kind"], credit["data"]["amount"]) == ("earnings.credited", "3.00")
        assert await theirs.receive_nothing(timeout=0.5)

    run(go)


def test_a_heartbeat_of_a_friend_with_no_dashboard_open_pushes_nothing(friend, register):
    """Most friends are not looking: their nodes' heartbeats skip the channel layer altogether."""
    node, api_key = register("den", user=friend)
    layer = get_channel_layer()
    cache.delete(f"live.present.{friend.pk}")
    live._present.clear()

    agent = NodeClient(Client(), api_key)

    async def go():
        await layer.group_add(live.user_group(friend.pk), "test.listener")
        await database_sync_to_async(agent.beat)()
        assert await _nothing_for(layer, "test.listener")
        await database_sync_to_async(live.mark_present)(friend.pk)  # a dashboard opens
        await database_sync_to_async(agent.beat)()
        message = await layer.receive("test.listener")
        assert (message["kind"], message["data"]["node_id"]) == ("node.heartbeat", node.pk)
        await layer.group_discard(live.user_group(friend.pk), "test.listener")

    run(go)


def test_a_dashboard_stays_present_while_it_pings(friend):
    cookie = cookie_of(friend)
    cache.delete(f"live.present.{friend.pk}")

    async def go():
        socket = await connected(cookie)
        assert cache.get(f"live.present.{friend.pk}") == 1
        cache.delete(f"live.present.{friend.pk}")  # as if the mark had run out
        await socket.send_json_to({"kind": "ping"})
        assert (await socket.receive_json_from(timeout=2))["kind"] == "pong"
        assert cache.get(f"live.present.{friend.pk}") == 1
        await socket.disconnect()

    run(go)


async def _nothing_for(layer: Any, channel: str) -> bool:
    try:
        await asyncio.wait_for(layer.receive(channel), timeout=0.5)
    except TimeoutError:
        return True
    return False
