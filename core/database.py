"""A database outage (PostgreSQL restarting, unreachable): told apart from a statement that
failed, answered 503 with Retry-After by the callers (core/errors.py, core/middleware.py, the
heartbeat batcher, the hook route), and failed fast while it lasts.

Under load a request may wait DB_POOL_TIMEOUT seconds for a pooled connection. While the
database is down that wait is only how long each request takes to fail, so once an outage is
seen the pool's wait is cut to DB_OUTAGE_TIMEOUT until a connection is made again (Django's
``connection_created``, sent on every checkout that worked). The outage is logged once when it
begins and once when it ends, not once per request.

A connection cut by the server (a restart: "terminating connection due to administrator
command", "server closed the connection unexpectedly") means every idle pooled connection is as
dead: the pool is drained, so none of them fails one more request after the database is back.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import psycopg
import psycopg_pool
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from django.db.backends.signals import connection_created

log = logging.getLogger(__name__)

# SQLSTATE classes that say the server cannot serve now, not that the statement was wrong:
# 08 connection exception, 53 insufficient resources (too many connections, disk full), 57P0x the
# server shutting down, crashed, starting up ("cannot connect now"). A deadlock (40P01) or a
# cancelled statement (57014) are the statement's own: they stay errors of the request.
UNAVAILABLE_STATES = ("08", "53", "57P0")


def _driver_error(exc: BaseException) -> BaseException | None:
    """psycopg's error: Django's wrapper's cause, or raised as it is (a pipeline's, which Django
    does not wrap)."""
    return exc.__cause__ if isinstance(exc, (OperationalError, InterfaceError)) else exc


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached now — connection refused, cut by a
    restart, the server starting up, no pooled connection in time — so the request should be
    answered 503 with Retry-After (it changed nothing), not 500."""
    if isinstance(exc, InterfaceError):  # Django's "connection already closed"
        return True
    error = _driver_error(exc)
    if isinstance(error, psycopg.InterfaceError):
        return True
    if not isinstance(error, psycopg.OperationalError):
        return False  # SQLite's errors (a locked file, a missing table) are not outages
    state = error.sqlstate
    return state is None or state.startswith(UNAVAILABLE_STATES)  # None: the client's own (refused, cut)


def waited_in_vain(exc: BaseException) -> bool:
    """No pooled connection came in time: the requests waiting behind it would wait as long."""
    return isinstance(_driver_error(exc), (psycopg_pool.PoolTimeout, psycopg_pool.TooManyRequests))


def connection_lost(exc: BaseException) -> bool:
    """An outage seen on a connection that was open (the server restarted or went away)."""
    return unavailable(exc) and not waited_in_vain(exc)


def _pools() -> list[Any]:
    found = []
    for alias in connections:  # a process's pool is shared by all its threads' connections
        pool = getattr(connections[alias], "pool", None)  # PostgreSQL's backend with OPTIONS["pool"]
        if pool is not None:
            found.append(pool)
    return found


_lock = threading.Lock()
_down_since: float | None = None


def outage_seen(exc: BaseException) -> None:
    """A request failed because the database is unreachable (``unavailable(exc)``)."""
    global _down_since
    with _lock:
        began = _down_since is None
        if began:
            _down_since = time.monotonic()
    pools = _pools()
    for pool in pools:
        pool.timeout = settings.DB_OUTAGE_TIMEOUT  # the next requests fail fast, until one connects
        if connection_lost(exc):
            pool.drain()
    if began:
        cause = _driver_error(exc) or exc
        log.warning(
            "database unavailable, answering 503 until it is back: %s: %s",
            type(cause).__name__,
            str(cause).strip().splitlines()[0][:200] if str(cause).strip() else "",
        )


def _connected(**kwargs: Any) -> None:
    """A connection was handed out (``connection_created``): if an outage was on, it is over."""
    global _down_since
    if _down_since is None:  # the common case: one comparison per checkout
        return
    with _lock:
        since, _down_since = _down_since, None
    if since is None:
        return
    for pool in _pools():
        pool.timeout = settings.DB_POOL_TIMEOUT
    log.warning("database available again after %.1f s", time.monotonic() - since)


connection_created.connect(_connected, dispatch_uid="core.database.connected")
