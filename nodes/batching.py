"""Group commit for heartbeats: the beats that arrive while the previous batch is in the database
are answered together, by one thread per process (``HEARTBEAT_BATCH_THREADS`` for more) with one
database connection.

At low load a batch is one beat and nothing waits; under load each round trip is shared by every
beat that arrived meanwhile, so the database work per beat falls as the load rises. A beat is
answered only after its batch committed. If a batch fails as a whole (a bug), each of its beats
is tried alone, so one bad beat cannot fail its neighbours.

A database outage (a restart: connection refused or cut, no pooled connection in time; see
core/database.py) is different: trying each beat alone would make each wait to fail the same
way. The batch is answered 503 with Retry-After at once, never 200: nothing it held was
committed (a transaction cut before COMMIT is rolled back; one cut during COMMIT may have
committed, and its replay is then found by its sequence number and counted once). When the batch
waited for a connection in vain, the beats queued meanwhile are answered 503 too instead of each
batch waiting out the pool in turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import close_old_connections

from core import database
from core.errors import UNAVAILABLE_HEADERS, error_body, unavailable_body

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Answer = tuple[int, dict[str, Any], dict[str, str]]
FAILED: Answer = (500, error_body("server_error", "Internal server error."), {})
BUSY: Answer = (503, error_body("busy", "Too many heartbeats waiting; retry in a second."), {"Retry-After": "1"})
UNAVAILABLE: Answer = (503, unavailable_body(), UNAVAILABLE_HEADERS)


class _Outage(Exception):
    """A batch failed because the database is unreachable; ``waited``: no connection came in time."""

    def __init__(self, waited: bool) -> None:
        self.waited = waited


class Batcher(Generic[Item]):
    def __init__(
        self,
        answer: Callable[[list[Item]], list[Answer]],
        *,
        threads: int = 1,
        largest: int = 500,
        most_waiting: int = 20_000,
    ) -> None:
        self._answer = answer
        self._largest = largest
        self._waiting: list[tuple[Item, asyncio.Future[Answer], asyncio.AbstractEventLoop]] = []
        self._ready = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._count = threads
        self._most_waiting = most_waiting

    async def submit(self, item: Item) -> Answer:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        with self._ready:
            if len(self._waiting) >= self._most_waiting:  # a flood (random keys pass any per-key
                return BUSY  # limit): refused at once instead of queueing without bound
            self._waiting.append((item, future, loop))
            # First use in this process (uvicorn spawns its workers), or a thread that died.
            self._threads = [thread for thread in self._threads if thread.is_alive()]
            for n in range(len(self._threads), self._count):
                thread = threading.Thread(target=self._run, name=f"heartbeat-batches-{n}", daemon=True)
                thread.start()
                self._threads.append(thread)
            self._ready.notify()
        return await future

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._waiting:
                    self._ready.wait()
                batch, self._waiting = self._waiting[: self._largest], self._waiting[self._largest :]
            try:
                answers = self._answer_all([item for item, _, _ in batch])
            except _Outage as outage:
                answers = [UNAVAILABLE] * len(batch)
                if outage.waited:  # the beats queued meanwhile would each wait as long in vain
                    with self._ready:
                        stranded, self._waiting = self._waiting, []
                    _deliver(stranded, [UNAVAILABLE] * len(stranded))
            _deliver(batch, answers)

    def _answer_all(self, items: list[Item]) -> list[Answer]:
        try:
            return self._answered(items)
        except Exception as exc:
            if database.unavailable(exc):
                database.outage_seen(exc)  # logged once, dead pooled connections dropped, waits cut
                raise _Outage(waited=database.waited_in_vain(exc)) from exc
            if len(items) == 1:
                log.exception("heartbeat failed")
                return [FAILED]
            log.warning("a batch of %d heartbeats failed; answering each alone", len(items), exc_info=True)
            answers: list[Answer] = []
            for item in items:
                try:
                    answers.append(self._answer_all([item])[0])
                except _Outage:  # the beats answered alone before it stay answered (committed)
                    return answers + [UNAVAILABLE] * (len(items) - len(answers))
            return answers

    def _answered(self, items: list[Item]) -> list[Answer]:
        close_old_connections()  # a failure here fails the batch: nothing is written yet
        try:
            return self._answer(items)
        finally:
            try:
                close_old_connections()  # CONN_MAX_AGE 0: the connection goes back to the pool
            except Exception:  # a committed batch must not be answered as failed
                log.warning("returning a connection to the pool failed", exc_info=True)


def _deliver(
    batch: list[tuple[Item, asyncio.Future[Answer], asyncio.AbstractEventLoop]], answers: list[Answer]
) -> None:
    for (_, future, loop), answer in zip(batch, answers, strict=True):
        with contextlib.suppress(RuntimeError):  # its event loop closed: nobody waits
            loop.call_soon_threadsafe(_settle, future, answer)


def _settle(future: asyncio.Future[Answer], answer: Answer) -> None:
    if not future.done():  # the client may have gone (the request was cancelled)
        future.set_result(answer)
