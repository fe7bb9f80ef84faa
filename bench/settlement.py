"""Benchmark: settling one hour of 10,000 nodes x 60 minute-buckets.

Creates NODES nodes relaying one stream that was live the whole hour, bulk-loads their minute
buckets, then times rewards.services.settle_hour and checks that the credits equal the pool.
Usage (PostgreSQL, as in production):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/settlement.py [NODES]
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from decimal import Decimal

from common import test_database
from django.contrib.auth.models import User
from django.db.models import Sum
from django.utils import timezone

from nodes.models import Node, NodeMinute
from rewards import services
from rewards.models import LedgerEntry
from rewards.split import sum_to_cents
from streams import services as stream_services
from streams.models import Origin, OriginMinute, Stream, StreamSession


def buckets(nodes: list[Node], first: int, stream: Stream, hour: datetime) -> list[NodeMinute]:
    """A minute bucket per node per minute; one in 17 without a healthy heartbeat (not credited)."""
    return [
        NodeMinute(
            node=node,
            stream=stream,
            minute=hour + timedelta(minutes=m),
            heartbeats=6,
            healthy_heartbeats=6 if (n + m) % 17 else 0,
            bytes_served=(n % 97 + 1) * 100_000,
        )
        for n, node in enumerate(nodes, start=first)
        for m in range(60)
    ]


def main(nodes: int) -> None:
    with test_database() as engine:
        owner = User.objects.create_user("bench")
        stream, key = stream_services.create_stream(owner=owner, slug="bench", reward_rate_per_hour=Decimal("100.00"))
        stream_services.admit_publish(
            stream_services.PublishRequest(origin=Origin.SRS, app="live", slug="bench", key=key, client_id="c")
        )
        hour = services.hour_start(timezone.now()) - timedelta(hours=2)
        StreamSession.objects.update(started_at=hour - timedelta(minutes=5))
        # The origin's hooks all hour: only minutes it was seen alive in pay.
        OriginMinute.objects.bulk_create(
            OriginMinute(stream=stream, minute=hour + timedelta(minutes=m)) for m in range(60)
        )
        fleet = [
            Node(owner=owner, name=f"n{n}", public_url=f"http://n{n}.example", api_key_hash=f"{n:064d}")
            for n in range(nodes)
        ]
        Node.objects.bulk_create(fleet, batch_size=5000)
        loading = time.perf_counter()
        for first in range(0, nodes, 500):
            NodeMinute.objects.bulk_create(buckets(fleet[first : first + 500], first, stream, hour), batch_size=10_000)
        print(f"loaded {NodeMinute.objects.count():,} minute buckets in {time.perf_counter() - loading:.1f} s")
        started = time.perf_counter()
        (settlement,) = services.settle_hour(hour)
        elapsed = time.perf_counter() - started
        credited = sum_to_cents(
            LedgerEntry.objects.filter(settlement=settlement).aggregate(total=Sum("amount"))["total"]
        )
        print(f"settled one hour of {nodes:,} nodes x 60 buckets on {engine} in {elapsed:.2f} s")
        equal = credited == settlement.pool
        print(f"pool {settlement.pool}, credited {credited} to {settlement.nodes:,} nodes: equal = {equal}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
