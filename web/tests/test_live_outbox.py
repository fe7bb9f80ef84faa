"""Without Redis, a worker's pushes reach the web process's pages through the database outbox
(core/live_outbox.py); with Redis, or without the role ``manage.py serve`` gives, nothing changes."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.utils import timezone

from core import live, live_outbox
from core.models import LiveOutboxMessage
from validation.events import CheckVerdict
from web.tests.test_live_updates import connected, cookie_of

pytestmark = pytest.mark.django_db(transaction=True)
IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def in_memory(settings):  # type: ignore[no-untyped-def]
    """`make run` without Redis: channels' in-memory layer (channels resets its layers on the change)."""
    settings.CHANNEL_LAYERS = IN_MEMORY
    assert isinstance(get_channel_layer(), InMemoryChannelLayer)


def verdict(user_id: int, detail: str = "checked") -> CheckVerdict:
    return CheckVerdict(
        audience=user_id,
        node_id=1,
        outcome="pass",
        passed=True,
        checked_at=timezone.now(),
        detail=detail,
        approval="approved",
    )


def test_a_worker_without_redis_writes_its_pushes_to_the_outbox_even_with_no_presence_known(
    in_memory, monkeypatch, friend
):
    monkeypatch.setenv(live_outbox.ROLE_ENV, "write")
    live.push(verdict(friend.pk))  # nobody marked present in this process: the web process decides
    row = LiveOutboxMessage.objects.get()
    assert row.group == live.user_group(friend.pk)
    assert row.message["kind"] == "spotcheck.verdict" and row.message["data"]["detail"] == "checked"


def test_nothing_goes_to_the_outbox_without_the_role_or_with_redis(in_memory, monkeypatch, friend):
    live.push(verdict(friend.pk))
    assert not LiveOutboxMessage.objects.exists()
    monkeypatch.setenv(live_outbox.ROLE_ENV, "write")
    assert not live_outbox.writes(RedisChannelLayer(hosts=["redis://127.0.0.1:6379/0"]))  # never connects
    assert live_outbox.writes(get_channel_layer())


def test_the_web_process_relays_the_outbox_to_an_open_page_within_a_second(in_memory, monkeypatch, friend):
    monkeypatch.setenv(live_outbox.ROLE_ENV, "drain")
    cookie = cookie_of(friend)

    async def go() -> float:
        socket = await connected(cookie)  # the first socket starts the drain
        try:
            written = time.monotonic()
            await database_write([(live.user_group(friend.pk), live._message(verdict(friend.pk, "relayed"))[1])])
            while True:
                message = await socket.receive_json_from(timeout=3)
                if message["kind"] == "spotcheck.verdict":
                    assert message["data"]["detail"] == "relayed"
                    return time.monotonic() - written
        finally:
            await socket.disconnect()
            await live_outbox.drainer.stop()

    took = async_to_sync(go)()
    print(f"outbox -> page: {took * 1000:.0f} ms")
    assert took < 1.0


async def database_write(messages):  # type: ignore[no-untyped-def]
    """As the worker process does (from sync code): the row, committed."""
    await sync_to_async(live_outbox.write, thread_sensitive=False)(messages)


def test_the_outbox_keeps_seconds_of_rows_and_at_most_a_bounded_number(monkeypatch):
    monkeypatch.setattr(live_outbox, "MAX_ROWS", 5)
    old = timezone.now() - timedelta(seconds=live_outbox.KEEP_SECONDS + 1)
    LiveOutboxMessage.objects.bulk_create([LiveOutboxMessage(created_at=old, group="g", message={}) for _ in range(3)])
    live_outbox.write([("g", {"n": n}) for n in range(8)])
    live_outbox.prune()
    assert [row.message["n"] for row in LiveOutboxMessage.objects.all()] == [3, 4, 5, 6, 7]
