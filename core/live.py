"""Live pushes to open dashboards: one helper, typed payloads, one consumer (``web/consumers.py``).

Each app declares the events it sends in its own ``events.py`` (subclasses of ``LiveEvent``,
whose ``kind`` the page scripts listen for). Services call ``push(event)``; the event goes out
after the current transaction commits (never for a change that rolled back) to the group of the
one user it concerns, or to every signed-in user for public events (a stream going live). A push
is best effort: a dashboard that misses one catches up at its next reload, so a broken channel
layer never fails a heartbeat or a hook.

A push to one user goes out only while that user has a dashboard open (its socket marks the user
present on connect and at every keep-alive ping): most friends are not looking, and a push costs
a channel-layer round trip on the heartbeat path. Whether a user is present is asked of the cache
at most once a second per process.

Redis down (the channel layer or the cache): pushes are dropped, counted
(``streamr_live_pushes_dropped_total``) and logged once per outage (``core/outages.py``), and for a
few seconds after a failure they are dropped at once instead of each waiting on a dead Redis.

A local run without Redis has one in-memory layer per process: the worker's pushes then go through
a database outbox that the web process relays (``core/live_outbox.py``, ``manage.py serve``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import transaction
from prometheus_client import Counter

from core import live_outbox, outages

_pending: set[asyncio.Task[None]] = set()  # sends scheduled on a running loop, kept until done
PUBLIC_GROUP = "live.public"
PRESENT_SECONDS = 60  # a dashboard counts as open this long after its last ping (the page pings every 25 s)
_present: dict[int, tuple[float, bool]] = {}  # user -> (asked again after, present): this process's memo
_PUSHES = outages.CHANNEL_LAYER
_PRESENCE = outages.CACHE
# Made without a registry, as nodes/metrics.py: web/ops.py serves it (core may not import web).
PUSHES_DROPPED = Counter(
    "streamr_live_pushes_dropped",
    "Live pushes dropped because the channel layer failed or was skipped as down (dashboards catch up on reload).",
    registry=None,
)


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


def mark_present(user_id: int) -> None:
    """A dashboard of ``user_id`` is open (its socket connected or pinged)."""
    _present[user_id] = (time.monotonic() + 1.0, True)
    if not _PRESENCE.closed():
        _PRESENCE.skipped("presence")
        return
    try:
        cache.set(f"live.present.{user_id}", 1, timeout=PRESENT_SECONDS)
    except Exception as exc:  # the cache is down: is_present() then says yes to everyone
        _PRESENCE.failed(exc, "presence")
        return
    _PRESENCE.succeeded()


def is_present(user_id: int) -> bool:
    return user_id in present_among([user_id])


def present_among(user_ids: Sequence[int]) -> set[int]:
    """Which of these users have a dashboard open: this process's memo, then one cache read for
    the others (a batch of heartbeats asks once, not once per beat)."""
    if live_outbox.writes(get_channel_layer()):
        # A worker on a local run: presence lives in the web process's memory, out of reach here;
        # the web process drops a push for a user with no page open at no cost.
        return set(user_ids)
    now = time.monotonic()
    present: set[int] = set()
    unknown: list[int] = []
    for user_id in dict.fromkeys(user_ids):
        memo = _present.get(user_id)
        if memo is not None and memo[0] > now:
            if memo[1]:
                present.add(user_id)
        else:
            unknown.append(user_id)
    if not unknown:
        return present
    # Unsure (the cache is down): push (a push nobody receives costs less than one that is lost).
    answers = dict.fromkeys(unknown, True)
    if not _PRESENCE.closed():
        _PRESENCE.skipped("presence", len(unknown))
    else:
        try:
            found = cache.get_many([f"live.present.{u}" for u in unknown])
        except Exception as exc:
            _PRESENCE.failed(exc, "presence", len(unknown))
        else:
            _PRESENCE.succeeded()
            answers = {u: f"live.present.{u}" in found for u in unknown}
    if len(_present) > 100_000:
        _present.clear()
    for user_id, here in answers.items():
        _present[user_id] = (now + 1.0, here)
        if here:
            present.add(user_id)
    return present


def push(event: LiveEvent) -> None:
    """Send ``event`` once the surrounding transaction commits (at once outside one); a push to a
    user with no dashboard open is dropped."""
    if event.audience is not None and not is_present(event.audience):
        return
    transaction.on_commit(lambda: send_now(event))


def push_many(events: Sequence[LiveEvent]) -> None:
    """``push`` for a batch (the heartbeat path): the events for users present go out together
    after commit, concurrently, in one blocking call instead of one per event."""
    here = present_among([e.audience for e in events if e.audience is not None])
    wanted = [e for e in events if e.audience is None or e.audience in here]
    if len(wanted) == 1:
        transaction.on_commit(lambda: send_now(wanted[0]))
    elif wanted:
        transaction.on_commit(lambda: _send_together(wanted))


def _dropped(count: int, error: BaseException | None = None) -> None:
    """``count`` pushes are lost: the layer failed (``error``) or is skipped as down."""
    PUSHES_DROPPED.inc(count)
    if error is None:
        _PUSHES.skipped("live_push", count)
    else:
        _PUSHES.failed(error, "live_push", count)


def _send_together(events: Sequence[LiveEvent]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if live_outbox.writes(layer):
        _to_outbox([_message(e) for e in events])
        return
    if not _PUSHES.closed():
        _dropped(len(events))
        return

    async def send_all() -> None:
        sent = await asyncio.gather(*(layer.group_send(*_message(e)) for e in events), return_exceptions=True)
        failures = [outcome for outcome in sent if isinstance(outcome, BaseException)]
        if failures:
            _dropped(len(failures), failures[0])
        else:
            _PUSHES.succeeded()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        try:
            _blocking(layer, send_all())
        except Exception as exc:  # the layer is down (or slower than the wait): the changes stand
            _dropped(len(events), exc)
        return
    for event in events:  # called from async code: scheduled on its loop, never blocking it
        send_now(event)


class _SenderLoop:
    """One event loop per process, in a thread of its own, for pushes from sync code (the
    heartbeat batches, jobs). channels_redis keeps its Redis connections per event loop, and
    ``async_to_sync`` runs each call on a new loop: every push opened a new connection."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def run(self, work: Coroutine[Any, Any, None], timeout: float = 1.0) -> None:
        """Wait at most ``timeout`` (the heartbeat batch waits on this): a slow channel layer costs
        a push, not the answers of the beats behind it."""
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():  # first use, or forked
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="live-pushes", daemon=True)
                self._thread.start()
            loop = self._loop
        sending = asyncio.run_coroutine_threadsafe(work, loop)
        try:
            sending.result(timeout)
        except TimeoutError:
            sending.cancel()  # not left to pile up against the layer's connection limit
            raise


_sender = _SenderLoop()


def _blocking(layer: Any, work: Coroutine[Any, Any, None]) -> None:
    """Run a send from sync code: on the process's sender loop for the Redis layer; the in-memory
    layer (local runs, tests) binds its queues to the loop that uses them, so it keeps asgiref's."""
    if type(layer).__module__.startswith("channels_redis"):
        _sender.run(work)
    else:
        async_to_sync(_awaited)(work)


async def _awaited(work: Coroutine[Any, Any, None]) -> None:
    await work


def _message(event: LiveEvent) -> tuple[str, dict[str, Any]]:
    group = PUBLIC_GROUP if event.audience is None else user_group(event.audience)
    return group, {"type": "live.event", "audience": event.audience, "kind": event.kind, "data": event.data()}


def _sent(task: asyncio.Task[None]) -> None:
    _pending.discard(task)
    if task.cancelled():  # its loop is closing: lost, but says nothing about Redis
        _dropped(1)
    elif (error := task.exception()) is not None:
        _dropped(1, error)
    else:
        _PUSHES.succeeded()


def send_now(event: LiveEvent) -> None:
    group, message = _message(event)
    layer = get_channel_layer()
    if layer is None:
        return
    if live_outbox.writes(layer):
        _to_outbox([(group, message)])
        return
    if not _PUSHES.closed():
        _dropped(1)
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
            _blocking(layer, layer.group_send(group, message))
            _PUSHES.succeeded()
    except Exception as exc:  # the layer is down: the change itself stands, dashboards catch up on reload
        _dropped(1, exc)


def _to_outbox(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """A local run's worker: the web process relays these to its pages (core/live_outbox.py)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:  # async code may not touch the database in its loop's thread
        writing = sync_to_async(live_outbox.write, thread_sensitive=False)(messages)
        task = asyncio.get_running_loop().create_task(writing)
        _pending.add(task)
        task.add_done_callback(_pending.discard)
        return
    try:
        live_outbox.write(messages)
    except Exception as exc:  # a locked or missing table: best effort, as every push
        _dropped(len(messages), exc)
