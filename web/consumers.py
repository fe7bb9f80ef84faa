"""The one websocket: ``/ws/live`` streams a signed-in user's live events to their open pages."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from asgiref.sync import sync_to_async
from channels.auth import get_user
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import connections

from core import live_outbox
from core.live import PUBLIC_GROUP, mark_present, user_group

SessionStore = import_module(settings.SESSION_ENGINE).SessionStore

# Work done for every event and ping runs in the shared thread pool, not in the one thread that
# thread-sensitive calls share per process: with 2,000 dashboards open, the sign-in checks of
# concurrent events then wait on the database side by side instead of queueing behind each other
# (and behind every other socket's pings). issue 16, bench/fanout.py.


def _load_user(scope: dict[str, Any]) -> Any:
    """channels' own ``get_user``, as is, in whichever pool thread runs it; its database connection
    goes back to the pool at once (a pool thread may not run Django code again for a while, or
    ever: a connection left open in it would be lost to the pool)."""
    try:
        return get_user.func(scope)
    finally:
        connections.close_all()


_get_user = sync_to_async(_load_user, thread_sensitive=False)
_mark_present = sync_to_async(mark_present, thread_sensitive=False)


async def _still_signed_in(user_id: int, session_key: str | None) -> bool:
    """The socket's login still stands. The scope's session was loaded once, at connect: read it
    again from its store and let channels verify it as it did then (same user, active account,
    current password hash), so logout, session expiry or a password change end it."""
    if not session_key:
        return False
    user = await _get_user({"session": SessionStore(session_key=session_key)})
    return bool(user.is_authenticated and user.pk == user_id)


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """Joins the user's own group and the public one. Every message is checked again before it
    goes out: it must be public or addressed to this user, and the account must still be active
    (a user deactivated, logged out or whose password changed is disconnected at the next event)."""

    user_id: int | None = None
    groups_joined: list[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            # Accept, then close with our code: closing before accepting reaches the browser as a
            # bare 403 (code 1006), and the page could not tell "signed out" from "network drop".
            await self.accept()
            await self.close(code=4401)
            return
        if live_outbox.drains(self.channel_layer):  # a local run: relay the worker's pushes too
            live_outbox.drainer.ensure(self.channel_layer)
        self.user_id = user.pk
        self.groups_joined = [user_group(user.pk), PUBLIC_GROUP]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await _mark_present(user.pk)  # pushes to this user go out from now on
        await self.accept()
        await self.send_json({"kind": "hello", "data": {"user": user.get_username()}})

    async def dispatch(self, message: dict[str, Any]) -> None:
        """As channels dispatches, without its hop to the thread-sensitive thread to close stale
        database connections before every message: these handlers touch the database only in
        ``_get_user``, which closes its connection itself, so the hop was pure queueing (one per
        event and per ping, all sockets of the process in one thread)."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("kind") == "ping":  # keep-alive from the page
            if self.user_id is not None:
                await _mark_present(self.user_id)
            await self.send_json({"kind": "pong", "data": {}})

    async def live_event(self, message: dict[str, Any]) -> None:
        if self.user_id is None:
            return
        if message.get("audience") not in (None, self.user_id):
            return  # never another user's event, whatever group it arrived through
        session = self.scope.get("session")
        if not await _still_signed_in(self.user_id, getattr(session, "session_key", None)):
            await self.close(code=4403)
            return
        await self.send_json({"kind": message["kind"], "data": message["data"]})
