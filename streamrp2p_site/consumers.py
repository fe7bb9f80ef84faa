"""The one websocket: ``/ws/live`` streams a signed-in user's live events to their open pages."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.contrib.auth.models import User

from streamrp2p_site.live import PUBLIC_GROUP, user_group


def _is_active(user_id: int) -> bool:
    return User.objects.filter(pk=user_id, is_active=True).exists()


async def _still_active(user_id: int) -> bool:
    return bool(await database_sync_to_async(_is_active)(user_id))


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """Joins the user's own group and the public one. Every message is checked again before it
    goes out: it must be public or addressed to this user, and the account must still be active
    (a user deactivated while connected is disconnected at the next event)."""

    user_id: int | None = None
    groups_joined: list[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
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
        if not await _still_active(self.user_id):
            await self.close(code=4403)
            return
        await self.send_json({"kind": message["kind"], "data": message["data"]})
