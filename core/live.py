"""Live pushes to open dashboards: one helper, typed payloads, one consumer (``web/consumers.py``).

Each app declares the events it sends in its own ``events.py`` (subclasses of ``LiveEvent``,
whose ``kind`` the page scripts listen for). Services call ``push(event)``; the event goes out
after the current transaction commits (never for a change that rolled back) to the group of the
one user it concerns, or to every signed-in user for public events (a stream going live). A push
is best effort: a dashboard that misses one catches up at its next reload, so a broken channel
layer never fails a heartbeat or a hook.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)
_pending: set[asyncio.Task[None]] = set()  # sends scheduled on a running loop, kept until done
PUBLIC_GROUP = "live.public"


def user_group(user_id: int) -> str:
    return f"live.user.{user_id}"


@dataclass(frozen=True)
class LiveEvent:
    """One push. ``audience`` is the user it is for; None means every signed-in user."""

    kind: ClassVar[str]
    audience: int | None = field(default=None, kw_only=True)

    def data(self) -> dict[str, Any]:
        body = asdict(self)
        body.pop("audience")
        return {key: _plain(value) for key, value in body.items()}


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def push(event: LiveEvent) -> None:
    """Send ``event`` once the surrounding transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send_now(event))


def _sent(task: asyncio.Task[None]) -> None:
    _pending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("live push failed", exc_info=task.exception())


def send_now(event: LiveEvent) -> None:
    group = PUBLIC_GROUP if event.audience is None else user_group(event.audience)
    message = {"type": "live.event", "audience": event.audience, "kind": event.kind, "data": event.data()}
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    try:
        if loop is not None:  # called from async code (a consumer, an async view): no blocking here
            task = loop.create_task(layer.group_send(group, message))
            _pending.add(task)
            task.add_done_callback(_sent)
        else:
            async_to_sync(layer.group_send)(group, message)
    except Exception:  # the layer is down: the change itself stands, dashboards catch up on reload
        log.warning("live push %s to %s failed", event.kind, group, exc_info=True)
