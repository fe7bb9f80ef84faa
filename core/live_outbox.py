"""Live pushes from a worker process to the web process on a local run without Redis.

Without ``REDIS_URL`` the channel layer is channels' in-memory one: each process has its own, so a
push sent by the django-q2 worker (a spot-check verdict, a settlement credit, a payout) reached no
open page — only the web process's sockets listen on its layer. Channels ships no database-backed
layer, and ``make run`` must not need Redis, so a local run relays through the database it already
shares: a process started with ``STREAMR_LIVE_OUTBOX=write`` (``manage.py serve`` sets it for its
qcluster) writes each message to ``core.LiveOutboxMessage``; the web process
(``STREAMR_LIVE_OUTBOX=drain``) polls the table every ``POLL_SECONDS`` from its event loop and
sends what is new into its in-memory layer, where the sockets pick it up as any other push.

Local only: with Redis the variable is ignored (every process already shares the Redis layer), and
unset (tests, ``make web``/``make worker``) nothing changes. Bounded: rows older than
``KEEP_SECONDS`` and all but the newest ``MAX_ROWS`` are pruned by the web process, and by the
writer too when no web process is draining.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer
from django.db import close_old_connections, connections
from django.utils import timezone

log = logging.getLogger(__name__)

ROLE_ENV = "STREAMR_LIVE_OUTBOX"
POLL_SECONDS = 0.5
KEEP_SECONDS = 30  # a page that missed a push catches up at its next reload
MAX_ROWS = 10_000
PRUNE_EVERY_SECONDS = 5.0
_last_writer_prune = 0.0


def role() -> str:
    """``write``, ``drain`` or '' (off): set by ``manage.py serve`` for its children."""
    return os.environ.get(ROLE_ENV, "").strip().lower()


def writes(layer: Any) -> bool:
    """This process hands its pushes to the outbox instead of its own (unlistened) in-memory layer."""
    return role() == "write" and isinstance(layer, InMemoryChannelLayer)


def drains(layer: Any) -> bool:
    return role() == "drain" and isinstance(layer, InMemoryChannelLayer)


def write(messages: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Store ``(group, message)`` pairs for the web process (called after commit, from sync code)."""
    from core.models import LiveOutboxMessage  # core.live is imported while apps load: models later

    now = timezone.now()
    LiveOutboxMessage.objects.bulk_create(
        [LiveOutboxMessage(created_at=now, group=group, message=message) for group, message in messages]
    )
    global _last_writer_prune
    if time.monotonic() - _last_writer_prune > PRUNE_EVERY_SECONDS:  # bounded even with no web process
        _last_writer_prune = time.monotonic()
        prune()


def prune() -> int:
    """Delete rows past ``KEEP_SECONDS`` and all but the newest ``MAX_ROWS``; returns how many."""
    from core.models import LiveOutboxMessage

    expired = timezone.now() - timedelta(seconds=KEEP_SECONDS)
    removed, _ = LiveOutboxMessage.objects.filter(created_at__lt=expired).delete()
    newest = LiveOutboxMessage.objects.order_by("-id").values_list("id", flat=True).first()
    if newest is not None and newest > MAX_ROWS:
        extra, _ = LiveOutboxMessage.objects.filter(id__lte=newest - MAX_ROWS).delete()
        removed += extra
    return removed


def _fetch(after_id: int | None) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
    """Messages newer than ``after_id`` (first call: only the last ``POLL_SECONDS`` * 4, never a
    backlog from before this process listened), and the id to continue from."""
    from core.models import LiveOutboxMessage

    close_old_connections()
    try:
        rows = LiveOutboxMessage.objects.order_by("id")
        if after_id is None:
            rows = rows.filter(created_at__gte=timezone.now() - timedelta(seconds=POLL_SECONDS * 4))
        else:
            rows = rows.filter(id__gt=after_id)
        found = list(rows.values_list("id", "group", "message")[:1000])
        if not found and after_id is None:
            after_id = LiveOutboxMessage.objects.order_by("-id").values_list("id", flat=True).first() or 0
        return (found[-1][0] if found else (after_id or 0)), [(group, message) for _, group, message in found]
    finally:
        connections.close_all()  # a pool thread: never leave its connection (or a SQLite lock) behind


def _prune_now() -> int:
    try:
        return prune()
    finally:
        connections.close_all()


_fetch_async = sync_to_async(_fetch, thread_sensitive=False)
_prune_async = sync_to_async(_prune_now, thread_sensitive=False)


class Drainer:
    """One per event loop of the web process, started by the first socket that connects."""

    def __init__(self) -> None:
        self._tasks: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}

    def ensure(self, layer: InMemoryChannelLayer) -> None:
        loop = asyncio.get_running_loop()
        task = self._tasks.get(loop)
        if task is None or task.done():
            self._tasks[loop] = loop.create_task(self._run(layer), name="live-outbox-drain")

    async def stop(self) -> None:
        """Cancel this loop's drain (tests; a server's loop ends with its process)."""
        task = self._tasks.pop(asyncio.get_running_loop(), None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, layer: InMemoryChannelLayer) -> None:
        after_id: int | None = None
        pruned_at = 0.0
        while True:
            try:
                after_id, messages = await _fetch_async(after_id)
                for group, message in messages:
                    await layer.group_send(group, message)
                if time.monotonic() - pruned_at > PRUNE_EVERY_SECONDS:
                    pruned_at = time.monotonic()
                    await _prune_async()
            except asyncio.CancelledError:
                raise
            except Exception:  # a locked or restarting database: try again at the next tick
                log.warning("live outbox: drain failed; retrying", exc_info=True)
            await asyncio.sleep(POLL_SECONDS)


drainer = Drainer()
