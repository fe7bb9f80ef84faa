"""Retention: what streams keeps per stream-minute and per viewer, pruned once nothing needs it.

The caller (rewards.services.retention, which knows what settlement still needs) passes the
cutoff and the stream-hours to keep. Deletes run in bounded chunks (``delete_in_chunks``), each
statement its own short transaction, so pruning never holds long locks; the other apps' retention
modules use the same helper.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.db.models.functions import TruncHour
from django.utils import timezone

from streams.models import OriginMinute, StreamViewer, Watcher

HOUR = timedelta(hours=1)
WATCHERS_KEPT = timedelta(days=1)  # as prune_watchers: a watcher counts for nothing after 30 s
StreamHour = tuple[int, datetime]  # (stream id, start of the hour)


def delete_in_chunks(rows: QuerySet[Any], *, chunk: int | None = None, deadline: float | None = None) -> int:
    """Delete ``rows``, at most ``chunk`` (RETENTION_CHUNK_ROWS) a statement, until none is left or
    ``time.monotonic()`` passes ``deadline`` (the rest waits for the next run). Returns the rows
    deleted. Each statement is one ``DELETE … WHERE id IN (SELECT id … LIMIT chunk)``."""
    chunk = chunk or settings.RETENTION_CHUNK_ROWS
    model = rows.model
    deleted = 0
    while deadline is None or time.monotonic() < deadline:
        # The subquery's slice is the bound; Django deletes these models in one statement (no
        # cascades, no delete signals), in autocommit: a transaction per chunk.
        _, per_model = model._default_manager.filter(pk__in=rows.values("pk")[:chunk]).delete()
        done = per_model.get(model._meta.label) or per_model.get(model._meta.concrete_model._meta.label, 0)
        deleted += done
        if done < chunk:
            break
    return deleted


def stream_hours(rows: QuerySet[Any], field: str = "minute") -> set[StreamHour]:
    """The distinct (stream, hour) of these rows (rows without a stream left out)."""
    found = rows.filter(stream__isnull=False).annotate(_hour=TruncHour(field)).values_list("stream_id", "_hour")
    return set(found.distinct())


def outside(keep: Collection[StreamHour], field: str = "minute") -> Q:
    """Rows of none of these stream-hours."""
    found = Q()
    for stream_id, hour in keep:
        found &= ~Q(stream_id=stream_id, **{f"{field}__gte": hour, f"{field}__lt": hour + HOUR})
    return found


def origin_minute_hours(before: datetime) -> set[StreamHour]:
    """Stream-hours of the origin minutes older than ``before``: the caller decides which to keep."""
    return stream_hours(OriginMinute.objects.filter(minute__lt=before))


def prune_streams(
    *,
    before: datetime,
    keep: Collection[StreamHour] = (),
    now: datetime | None = None,
    chunk: int | None = None,
    deadline: float | None = None,
) -> dict[str, int]:
    """Delete origin minutes older than ``before`` except those of the ``keep`` stream-hours (the
    hours settlement has still to read), origin play connections that ended before ``before``
    (diagnostics only; open ones stay however old) and watchers gone for a day. Idempotent.
    Returns the rows deleted per table."""
    now = now or timezone.now()
    return {
        "origin_minutes": delete_in_chunks(
            OriginMinute.objects.filter(outside(keep), minute__lt=before), chunk=chunk, deadline=deadline
        ),
        "stream_viewers": delete_in_chunks(
            StreamViewer.objects.filter(ended_at__lt=before), chunk=chunk, deadline=deadline
        ),
        "watchers": delete_in_chunks(
            Watcher.objects.filter(last_seen__lt=now - WATCHERS_KEPT), chunk=chunk, deadline=deadline
        ),
    }
