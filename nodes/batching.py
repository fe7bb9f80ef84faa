"""Group commit for heartbeats: the beats that arrive while the previous batch is in the database
are answered together, by one thread per process (``HEARTBEAT_BATCH_THREADS`` for more) with one
database connection.

At low load a batch is one beat and nothing waits; under load each round trip is shared by every
beat that arrived meanwhile, so the database work per beat falls as the load rises. A beat is
answered only after its batch committed. If a batch fails as a whole (a bug, the database
restarting), each of its beats is tried alone, so one bad beat cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import close_old_connections

from core.errors import error_body

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Answer = tuple[int, dict[str, Any], dict[str, str]]
FAILED: Answer = (500, error_body("server_error", "Internal server error."), {})
BUSY: Answer = (503, error_body("busy", "Too many heartbeats waiting; retry in a second."), {"Retry-After": "1"})


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
            answers = self._answer_all([item for item, _, _ in batch])
            for (_, future, loop), answer in zip(batch, answers, strict=True):
                with contextlib.suppress(RuntimeError):  # its event loop closed: nobody waits
                    loop.call_soon_threadsafe(_settle, future, answer)

    def _answer_all(self, items: list[Item]) -> list[Answer]:
        try:
            return self._answered(items)
        except Exception:
            if len(items) == 1:
                log.exception("heartbeat failed")
                return [FAILED]
            log.warning("a batch of %d heartbeats failed; answering each alone", len(items), exc_info=True)
            return [self._answer_all([item])[0] for item in items]

    def _answered(self, items: list[Item]) -> list[Answer]:
        close_old_connections()
        try:
            return self._answer(items)
        finally:
            close_old_connections()  # CONN_MAX_AGE 0: the connection goes back to the pool


def _settle(future: asyncio.Future[Answer], answer: Answer) -> None:
    if not future.done():  # the client may have gone (the request was cancelled)
        future.set_result(answer)
