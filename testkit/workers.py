"""Parallel test runs (pytest-xdist: `make test` runs the suite on two workers): what each worker
must not share with the other.

pytest-django gives each worker its own test database (``test_<name>_gw0``, ``_gw1``, …). Redis has
no such thing: the suite's cache, channel layer and django-q2 broker all live in REDIS_URL's
database; tests empty it (``cache.clear()`` is a FLUSHDB: the nodes fixtures do it before every
test) and listen on channel groups named after row ids, which both workers' databases hand out
alike. So worker N uses Redis database (base + N) mod 16 (a default Redis has 16): CI's
``redis://…/0`` becomes databases 0 and 1. The test process and every server it starts (they
inherit REDIS_URL from the environment) see the same one. Worker 0 and a run without xdist keep
REDIS_URL unchanged.

Everything else a test starts is already per-worker: free ports (``testkit.media.free_port``),
pytest's ``tmp_path``, private PostgreSQL and Redis servers in fresh temp dirs.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDIS_DATABASES = 16  # redis.conf's default `databases`
given_redis_url: str | None = None  # REDIS_URL as the run was given it, before isolate_redis()


def worker_index() -> int | None:
    """0, 1, … under pytest-xdist (which sets PYTEST_XDIST_WORKER=gw<N> before Django loads); else None."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else None


def redis_url_for_worker(url: str, index: int) -> str:
    """``url`` moved to database (its database + ``index``) mod 16; both spellings of the database
    (``redis://host:port/3`` and ``unix:///path?db=3``) are kept as they were written."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "db" for key, _ in query) or parts.scheme == "unix":  # the path is a socket's, then
        given = int(dict(query).get("db") or 0)
        query = [(key, value) for key, value in query if key != "db"] + [("db", str((given + index) % REDIS_DATABASES))]
        return url.split("?", 1)[0] + "?" + urlencode(query)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(base + index) % REDIS_DATABASES}"))


def _swap(value: Any, old: str, new: str) -> Any:
    """``value`` with every string equal to ``old`` (however deep in dicts, lists, tuples) replaced."""
    if isinstance(value, str):
        return new if value == old else value
    if isinstance(value, dict):
        return {key: _swap(item, old, new) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_swap(item, old, new) for item in value)
    return value


def isolate_redis() -> str | None:
    """Under xdist, point this worker (settings, django-q2's config, the environment its servers
    inherit) at its own Redis database; returns the URL it now uses. Call it before any test runs:
    Django's settings are loaded by then (pytest-django loads them first), but the cache, the
    channel layer and the broker connect lazily, so nothing has used the shared database yet."""
    global given_redis_url
    from django.conf import settings

    index = worker_index()
    old = given_redis_url = settings.REDIS_URL
    if not old or not index:
        return old
    new = redis_url_for_worker(old, index)
    # Every setting built from REDIS_URL (CACHES, CHANNEL_LAYERS, Q_CLUSTER, …), whatever its shape.
    for name in dir(settings):
        if name.isupper():
            value = getattr(settings, name)
            swapped = _swap(value, old, new)
            if swapped != value:
                setattr(settings, name, swapped)
    from django_q.conf import Conf  # read Q_CLUSTER when Django loaded its apps

    Conf.REDIS = _swap(Conf.REDIS, old, new)
    os.environ["REDIS_URL"] = new
    # Anything made before this (nothing is, today) would keep the shared database: made again.
    from channels.layers import channel_layers
    from django.core.cache import caches

    caches.__dict__.pop("settings", None)  # CacheHandler caches the CACHES it read
    for alias in settings.CACHES:
        if hasattr(caches._connections, alias):  # type: ignore[attr-defined]
            caches[alias].close()
            del caches[alias]
    channel_layers.backends.clear()
    return new
