"""The open hour's estimate: what settling the hour so far would credit each node, computed by
settlement's own split (``settlement.split_hour``) on the data recorded up to now: the same
buckets, origin minutes, failed-check windows, attested bytes, pool and largest-remainder split.
Nothing here decides pay; it only asks settlement and picks a friend's nodes out of the answer.

Friends read it on every "My nodes" load and again on live updates, and one stream's split reads
all of its relays' buckets of the hour. So each stream's split is kept in the cache for
``CACHE_SECONDS``: however many friends look, a stream's hour is split at most once per that time
(per cache, by one request at a time), and a friend's answer is then two small queries plus a cache
read. Measured by bench/estimate.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.cache import cache
from django.utils import timezone

from nodes.models import Node
from rewards.services.settlement import hour_start, split_hour, streams_live_in
from rewards.split import CENT

CACHE_SECONDS = 10  # the estimate moves by the minute: a few seconds old is as good
LOCK_SECONDS = 60  # a split that takes longer than this (or whose request died) is started again
KEEP_SECONDS = 2 * 3600  # an expired split is still answered while the next one is computed


@dataclass(frozen=True)
class OpenHour:
    hour: datetime
    estimate: Decimal  # the sum of ``nodes``
    nodes: dict[int, Decimal]  # every node of the friend, 0.00 when it would be credited nothing


@dataclass(frozen=True)
class StreamHour:
    """One stream's split of the hour so far, as kept in the cache (whole cents: compact to keep)."""

    stream_id: int
    slug: str
    pool_cents: int
    shares: dict[int, int]  # node id -> cents it would be credited
    unpaid: frozenset[int]  # nodes with verified minutes whose share rounds to 0 cents so far

    def share(self, node_id: int) -> Decimal:
        return Decimal(self.shares.get(node_id, 0)) * CENT

    def counts(self, node_id: int) -> bool:
        """Whether the split counts verified minutes of the node (settlement would weigh them)."""
        return node_id in self.shares or node_id in self.unpaid


def stream_hours(start: datetime, *, cached: bool = True) -> list[StreamHour]:
    """The split so far of every stream live in the hour starting at ``start``. Cached: a split
    older than CACHE_SECONDS is recomputed by one request while the others (which find the lock
    taken) answer with the one before, so a stampede of friends never splits a stream twice."""
    found = []
    for stream in streams_live_in(start):
        key = f"rewards:open-hour:{stream.pk}:{start:%Y%m%d%H}"
        kept = cache.get(key) if cached else None
        if isinstance(kept, tuple) and (
            time.time() - kept[0] < CACHE_SECONDS or not cache.add(f"{key}:lock", 1, LOCK_SECONDS)
        ):
            found.append(kept[1])  # fresh, or another request is splitting again: the one before
            continue
        split = split_hour(stream, start)
        shares = {node_id: int(amount / CENT) for node_id, amount in split.shares.items()}
        counted = frozenset(c.node_id for c in split.contributions if c.minutes)
        part = StreamHour(stream.pk, stream.slug, int(split.pool / CENT), shares, counted - shares.keys())
        if cached:
            cache.set(key, (time.time(), part), KEEP_SECONDS)
            cache.delete(f"{key}:lock")
        found.append(part)
    return found


def open_hour(user: User, *, now: datetime | None = None, cached: bool = True) -> OpenHour:
    """What the friend's nodes would be credited if the current hour were settled with the data
    recorded so far (``now`` moves the clock: any hour can be estimated as it stood)."""
    start = hour_start(now or timezone.now())
    ids = list(Node.objects.filter(owner=user).values_list("pk", flat=True))
    nodes = {node_id: Decimal("0.00") for node_id in ids}
    if ids:
        for part in stream_hours(start, cached=cached):
            for node_id in part.shares.keys() & nodes.keys():
                nodes[node_id] += part.share(node_id)
    return OpenHour(start, sum(nodes.values(), Decimal("0.00")), nodes)
