"""The one websocket: ``/ws/live`` streams a signed-in user's live events to their open pages."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import User
from django.utils.crypto import constant_time_compare

from streamrp2p_site.live import PUBLIC_GROUP, user_group

SessionStore = import_module(settings.SESSION_ENGINE).SessionStore


def _still_signed_in(user_id: int, session_key: str | None) -> bool:
    """The account is active and the socket's login still stands: its session exists and was made
    with the current password (logout, session expiry or a password change end it)."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not session_key:
        return False
    session = SessionStore(session_key=session_key)
    if not session.exists(session_key):
        return False
    data = session.load()
    same_user = data.get(SESSION_KEY) == str(user_id)
    return same_user and constant_time_compare(data.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash())


async def _allowed(user_id: int, session_key: str | None) -> bool:
    return bool(await database_sync_to_async(_still_signed_in)(user_id, session_key))


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
        self.user_id = user.pk
        self.groups_joined = [user_group(user.pk), PUBLIC_GROUP]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"kind": "hello", "data": {"user": user.get_username()}})

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("kind") == "ping":  # keep-alive from the page
            await self.send_json({"kind": "pong", "data": {}})

    async def live_event(self, message: dict[str, Any]) -> None:
        if self.user_id is None:
            return
        if message.get("audience") not in (None, self.user_id):
            return  # never another user's event, whatever group it arrived through
        session = self.scope.get("session")
        if not await _allowed(self.user_id, getattr(session, "session_key", None)):
            await self.close(code=4403)
            return
        await self.send_json({"kind": message["kind"], "data": message["data"]})
