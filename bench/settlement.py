"""Benchmark: settling one hour of 10,000 nodes x 60 minute-buckets.

Creates NODES nodes relaying one stream that was live the whole hour, bulk-loads their minute
buckets, then times rewards.services.settle_hour beside the bare SQL aggregate of the same buckets
(the ceiling: settlement reads at least that), and checks that the credits equal the pool.
Usage (PostgreSQL, as in production):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/settlement.py [NODES]
``rows(NODES)`` measures the same inside a test database another script already created.
"""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from common import Row, test_database
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from nodes.models import Node, NodeMinute
from rewards import services
from rewards.models import LedgerEntry, Settlement
from rewards.split import sum_to_cents
from streams import services as stream_services
from streams.models import Origin, OriginMinute, Stream, StreamSession

TARGET = "<= 1 s at 10,000"


@dataclass(frozen=True)
class Measured:
    nodes: int
    buckets: int
    loading: float  # seconds to load the minute buckets
    settling: float  # seconds settle_hour took
    ceiling: float  # seconds the bare SQL aggregate of the same buckets took (best of 3)
    settlement: Settlement
    credited: Decimal


COLUMNS = "node_id, stream_id, minute, heartbeats, healthy_heartbeats, bytes_served, segments_served, http_requests, "
COLUMNS += "max_viewers, clamped"


def load_buckets(fleet: list[Node], stream: Stream, hour: datetime) -> None:
    """A bucket per node per minute of the hour, one in 17 without a healthy heartbeat (not
    credited), (n % 97 + 1) x 100 kB served by the n-th node. Plain SQL, not 600,000 model
    instances (half a minute): on PostgreSQL one INSERT ... SELECT, elsewhere executemany."""
    table = NodeMinute._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:  # one commit (SQLite: not one a row)
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""INSERT INTO {table} ({COLUMNS})
                    SELECT f.node_id, %s, %s + make_interval(mins => m), 6,
                           CASE WHEN (f.n - 1 + m) %% 17 <> 0 THEN 6 ELSE 0 END, ((f.n - 1) %% 97 + 1) * 100000,
                           0, 0, 0, 0
                    FROM unnest(%s::bigint[]) WITH ORDINALITY AS f(node_id, n)
                    CROSS JOIN generate_series(0, 59) AS m""",  # noqa: S608 (the table name is the model's)
                [stream.pk, hour, [node.pk for node in fleet]],
            )
            cursor.execute(f"ANALYZE {table}")  # as autovacuum would after such a load
            return
        minutes = [_db_time(hour + timedelta(minutes=m)) for m in range(60)]
        for first in range(0, len(fleet), 500):
            rows = [
                (node.pk, stream.pk, minutes[m], 6, 6 if (n + m) % 17 else 0, (n % 97 + 1) * 100_000, 0, 0, 0, 0)
                for n, node in enumerate(fleet[first : first + 500], start=first)
                for m in range(60)
            ]
            cursor.executemany(f"INSERT INTO {table} ({COLUMNS}) VALUES ({', '.join(['%s'] * 10)})", rows)  # noqa: S608


def _db_time(moment: datetime) -> object:
    """A datetime as the ORM writes it (SQLite: naive UTC text)."""
    return NodeMinute._meta.get_field("minute").get_db_prep_save(moment, connection)


def bare_aggregate(stream: Stream, hour: datetime) -> float:
    """Seconds of the least settlement must read: minutes and bytes per node of the hour's healthy
    buckets, in one GROUP BY, fetched. Best of three."""
    table = NodeMinute._meta.db_table
    query = f"""SELECT node_id, count(*), sum(bytes_served) FROM {table}
                WHERE stream_id = %s AND minute >= %s AND minute < %s AND healthy_heartbeats > 0
                GROUP BY node_id"""  # noqa: S608 (the table name is the model's)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(query, [stream.pk, _db_time(hour), _db_time(hour + timedelta(hours=1))])
            cursor.fetchall()
        best = min(best, time.perf_counter() - started)
    return best


def prepare(nodes: int) -> tuple[Stream, datetime, float]:
    """NODES nodes that relayed a closed hour of a stream of their own, live all that hour: the
    stream, the hour and the seconds the minute buckets took to load."""
    tag = f"bench-settle-{uuid.uuid4().hex[:8]}"  # apart from whatever else the database holds
    owner = User.objects.create_user(tag)
    stream, key = stream_services.create_stream(owner=owner, slug=tag, reward_rate_per_hour=Decimal("100.00"))
    stream_services.admit_publish(
        stream_services.PublishRequest(origin=Origin.SRS, app="live", slug=tag, key=key, client_id="c")
    )
    hour = services.hour_start(timezone.now()) - timedelta(hours=2)
    StreamSession.objects.filter(stream=stream).update(started_at=hour - timedelta(minutes=5))
    # The origin's hooks all hour: only minutes it was seen alive in pay.
    OriginMinute.objects.bulk_create(OriginMinute(stream=stream, minute=hour + timedelta(minutes=m)) for m in range(60))
    fleet = [
        Node(owner=owner, name=f"n{n}", public_url=f"http://n{n}.example", api_key_hash=f"{tag}-{n:040d}")
        for n in range(nodes)
    ]
    Node.objects.bulk_create(fleet, batch_size=5000)
    if any(node.pk is None for node in fleet):  # a backend that does not return bulk-inserted ids
        fleet = list(Node.objects.filter(owner=owner).order_by("pk"))
    loading = time.perf_counter()
    load_buckets(fleet, stream, hour)
    return stream, hour, time.perf_counter() - loading


def measure(nodes: int) -> Measured:
    """Load NODES nodes' hour, time the bare aggregate of its buckets, then settle_hour."""
    stream, hour, loading = prepare(nodes)
    ceiling = bare_aggregate(stream, hour)
    started = time.perf_counter()
    done = services.settle_hour(hour)
    settling = time.perf_counter() - started
    (settlement,) = [s for s in done if s.stream_id == stream.pk]
    credited = sum_to_cents(LedgerEntry.objects.filter(settlement=settlement).aggregate(total=Sum("amount"))["total"])
    return Measured(
        nodes, NodeMinute.objects.filter(stream=stream).count(), loading, settling, ceiling, settlement, credited
    )


def rows(nodes: int) -> list[Row]:
    """``make bench``'s row, measured in the test database the caller already created."""
    found = measure(nodes)
    return [
        Row(
            what=f"settle 1 h of {nodes:,} nodes",
            figure=found.settling,
            unit="s",
            ceiling_what="bare SQL aggregate",
            ceiling=found.ceiling,
            target=TARGET,
            higher_is_better=False,
        )
    ]


def main(nodes: int) -> None:
    with test_database() as engine:
        found = measure(nodes)
        settlement = found.settlement
        print(f"loaded {found.buckets:,} minute buckets in {found.loading:.1f} s")
        print(f"settled one hour of {nodes:,} nodes x 60 buckets on {engine} in {found.settling:.2f} s")
        print(f"ceiling: the bare SQL aggregate of the same buckets on {engine} took {found.ceiling:.2f} s")
        equal = found.credited == settlement.pool
        print(f"pool {settlement.pool}, credited {found.credited} to {settlement.nodes:,} nodes: equal = {equal}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
