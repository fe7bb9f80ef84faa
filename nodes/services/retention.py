"""Retention: per-node-per-minute buckets, pruned once settlement no longer needs them.

Settlement reads a stream-hour's buckets once, when it settles that hour; fraud signals read the
last hour, dashboards the last minute. The caller (rewards.services.retention, which knows what is
settled) passes the cutoff and the stream-hours whose buckets must stay however old.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from nodes.models import NodeMinute
from streams.services.retention import StreamHour, delete_in_chunks, outside, stream_hours


def minute_bucket_hours(before: datetime) -> set[StreamHour]:
    """Stream-hours of the buckets older than ``before`` (buckets of no stream left out)."""
    return stream_hours(NodeMinute.objects.filter(minute__lt=before))


def prune_node_minutes(
    *,
    before: datetime,
    keep: Collection[StreamHour] = (),
    chunk: int | None = None,
    deadline: float | None = None,
) -> dict[str, int]:
    """Delete minute buckets older than ``before``, except those of the ``keep`` stream-hours
    (unsettled ones); buckets of no stream (online, relaying nothing) pay nothing and go too.
    Bounded chunks, idempotent; returns the rows deleted."""
    rows = NodeMinute.objects.filter(outside(keep), minute__lt=before)
    return {"node_minutes": delete_in_chunks(rows, chunk=chunk, deadline=deadline)}
