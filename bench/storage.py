"""Benchmark: bytes per node-hour, and table sizes over a simulated week once retention prunes.

NODES nodes relay one stream, live all week. Each simulated day: a day of minute buckets, origin
minutes, spot-checks (one per node every 8 min, as SPOT_CHECK_INTERVAL_SECONDS gives trusted
nodes), viewers' per-segment reports and attested minutes (one viewer per VIEWER_SHARE nodes, a
6 s segment each), watchers and origin connections, bulk-inserted with INSERT … SELECT
generate_series; then the real services at the day's end, the clock moved by ``now=``:
settlement of the day's 24 hours (settle_stream_hour), vesting (vest_due) and the retention job
(prune_expired: hourly in production, here once a day, the same rows in one bite), with
RETENTION_DAYS = 2 so that a week shows the plateau, then VACUUM (what autovacuum does between
runs: deleted rows' space is reused, not returned to the OS). Prints each table's
pg_total_relation_size per day, bytes per node-hour and per viewer-hour before any pruning beside
the rows' own bytes (pg_column_size: no indexes, no page overhead), and the steady state.
Usage (PostgreSQL only; 60 nodes and 7 days by default, under a minute on two idle cores):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/storage.py [NODES [DAYS]]
``rows(NODES)`` measures the same inside a test database another script already created.
"""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from common import Row, print_rows, test_database
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from nodes.models import Node, NodeMinute
from rewards import services
from rewards.models import LedgerEntry, Settlement, Vesting
from rewards.services.retention import prune_expired
from streams import services as stream_services
from streams.models import Origin, OriginMinute, Stream, StreamSession, StreamViewer, Watcher
from validation.models import AttestedMinute, DeliveredSegment, SpotCheck

DAYS = 7
RETENTION_DAYS = 2  # the bench's; production's default is 7 (the plateau comes later, as high per day)
CHECK_EVERY_SECONDS = 480
SEGMENT_SECONDS = 6
VIEWER_SHARE = 20  # one viewer watching through one node in this many
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
PER_NODE = {  # grows with nodes x time
    "minute buckets": NodeMinute,
    "spot-checks": SpotCheck,
    "origin connections": StreamViewer,
}
PER_VIEWER = {  # grows with viewers x time
    "segment reports": DeliveredSegment,
    "attested minutes": AttestedMinute,
    "watchers": Watcher,
}
GROWING = {**PER_NODE, **PER_VIEWER, "origin minutes": OriginMinute}  # all pruned
TIME_COLUMN = {
    NodeMinute: "minute",
    SpotCheck: "checked_at",
    StreamViewer: "started_at",
    DeliveredSegment: "reported_at",
    AttestedMinute: "minute",
    Watcher: "first_seen",
    OriginMinute: "minute",
}
MONEY = {"ledger": LedgerEntry, "settlements": Settlement, "vestings": Vesting}  # append-only: never pruned


@dataclass
class Measured:
    nodes: int
    viewers: int
    sizes: list[dict[str, int]] = field(default_factory=list)  # per day, after pruning and VACUUM
    pruned: list[dict[str, int]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    per_node_hour: float = 0.0  # bytes the per-node tables took per node-hour on day 1 (before pruning)
    raw_per_node_hour: float = 0.0  # their rows' own bytes (pg_column_size) per node-hour, day 1
    per_viewer_hour: float = 0.0  # the same for the per-viewer tables, per viewer-hour
    raw_per_viewer_hour: float = 0.0
    money_per_node_hour: float = 0.0  # ledger, settlements, vestings: kept for good

    def total(self, day: int) -> int:
        return sum(self.sizes[day][name] for name in GROWING)


def _table(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def sizes() -> dict[str, int]:
    with connection.cursor() as cursor:
        found = {}
        for name, model in {**GROWING, **MONEY}.items():
            cursor.execute("SELECT pg_total_relation_size(%s)", [model._meta.db_table])
            found[name] = cursor.fetchone()[0]
    return found


def raw_bytes(models: dict[str, type], since: datetime, until: datetime) -> int:
    """The rows' own bytes (no indexes, no page or item overhead) written in [since, until)."""
    total = 0
    with connection.cursor() as cursor:
        for model in models.values():
            column = TIME_COLUMN[model]
            cursor.execute(
                f"SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM {_table(model)} t "  # noqa: S608
                f"WHERE {column} >= %s AND {column} < %s",
                [since, until],
            )
            total += cursor.fetchone()[0]
    return total


def load_day(stream: Stream, session: StreamSession, fleet: list[int], viewers: list[int], day: datetime) -> None:
    """One day of everything that grows, in a few INSERT … SELECT statements."""
    nodes = fleet
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {_table(NodeMinute)} (node_id, stream_id, minute, heartbeats, healthy_heartbeats,
                    bytes_served, segments_served, http_requests, max_viewers, clamped)
                SELECT n, %s, %s + make_interval(mins => m), 6, 6, 3000000, 10, 12, 1, 0
                FROM unnest(%s::bigint[]) AS n CROSS JOIN generate_series(0, 1439) AS m""",  # noqa: S608
            [stream.pk, day, nodes],
        )
        cursor.execute(
            f"""INSERT INTO {_table(OriginMinute)} (stream_id, minute)
                SELECT %s, %s + make_interval(mins => m) FROM generate_series(0, 1439) AS m""",  # noqa: S608
            [stream.pk, day],
        )
        # A check every 8 min per node, spread over the interval; evidence as the checker writes it.
        cursor.execute(
            f"""INSERT INTO {_table(SpotCheck)} (node_id, stream_id, checked_at, outcome, overlap, latency_ms,
                    node_frames, live_matches, stale_matches, "trigger", evidence, provisional)
                SELECT n, %s, %s + make_interval(secs => k * %s + (n * 37) %% %s), 'pass', 1.0, 350, 180, 180, 0,
                       'schedule',
                       jsonb_build_object(
                         'playlist', 'http://n' || n || '.example:8090/hls/' || %s || '/index.m3u8',
                         'segments', jsonb_build_array(
                           'http://n' || n || '.example:8090/hls/' || %s || '/seg' || (k * 80) || '.ts',
                           'http://n' || n || '.example:8090/hls/' || %s || '/seg' || (k * 80 + 1) || '.ts'),
                         'segment_bytes', 1500000 + (n * 7919 + k) %% 500000),
                       false
                FROM unnest(%s::bigint[]) AS n CROSS JOIN generate_series(0, %s) AS k""",  # noqa: S608
            [
                stream.pk,
                day,
                CHECK_EVERY_SECONDS,
                CHECK_EVERY_SECONDS,
                stream.slug,
                stream.slug,
                stream.slug,
                nodes,
                86400 // CHECK_EVERY_SECONDS - 1,
            ],
        )
        # Each viewer watches all day through one node, a new ticket each hour: a report per segment.
        cursor.execute(
            f"""INSERT INTO {_table(DeliveredSegment)} (ticket, node_id, stream_id, url, size, sha256, reported_at)
                SELECT md5(n || '-' || %s || '-' || (s * %s / 3600)), n, %s,
                       'http://n' || n || '.example:8090/hls/' || %s || '/seg' || (%s + s) || '.ts',
                       1500000 + (s * 7919) %% 500000, encode(sha256((n || '-' || s)::bytea), 'hex'),
                       %s + make_interval(secs => s * %s)
                FROM unnest(%s::bigint[]) AS n CROSS JOIN generate_series(0, %s) AS s""",  # noqa: S608
            [
                day.isoformat(),
                SEGMENT_SECONDS,
                stream.pk,
                stream.slug,
                int(day.timestamp()) // SEGMENT_SECONDS,
                day,
                SEGMENT_SECONDS,
                viewers,
                86400 // SEGMENT_SECONDS - 1,
            ],
        )
        per_minute = 60 // SEGMENT_SECONDS
        cursor.execute(
            f"""INSERT INTO {_table(AttestedMinute)} (node_id, stream_id, minute, bytes, segments)
                SELECT n, %s, %s + make_interval(mins => m), %s * 1750000, %s
                FROM unnest(%s::bigint[]) AS n CROSS JOIN generate_series(0, 1439) AS m""",  # noqa: S608
            [stream.pk, day, per_minute, per_minute, viewers],
        )
        cursor.execute(
            f"""INSERT INTO {_table(Watcher)} (ticket, stream_id, session_id, viewer, first_seen, last_seen,
                    newest_segment)
                SELECT md5(n || '-' || %s || '-' || h), %s, %s, '198.51.100.' || (n %% 250),
                       %s + make_interval(hours => h), %s + make_interval(hours => h, mins => 59),
                       'http://n' || n || '.example:8090/hls/' || %s || '/seg' || h || '.ts'
                FROM unnest(%s::bigint[]) AS n CROSS JOIN generate_series(0, 23) AS h""",  # noqa: S608
            [day.isoformat(), stream.pk, session.pk, day, day, stream.slug, viewers],
        )
        # Each relay's pull from the origin, reconnected once a day.
        cursor.execute(
            f"""INSERT INTO {_table(StreamViewer)} (stream_id, session_id, client_id, viewer_ip, started_at, ended_at)
                SELECT %s, %s, 'pull-' || n || '-' || %s, ('203.0.113.' || (n %% 250))::inet, %s, %s + interval '1 day'
                FROM unnest(%s::bigint[]) AS n""",  # noqa: S608
            [stream.pk, session.pk, day.date().isoformat(), day, day, nodes],
        )


def vacuum() -> None:
    """What autovacuum does between runs: deleted rows' space becomes reusable."""
    with connection.cursor() as cursor:
        for model in GROWING.values():
            cursor.execute(f"VACUUM ANALYZE {_table(model)}")


def prepare(nodes: int, days: int) -> tuple[Stream, StreamSession, list[int], list[int], datetime]:
    """NODES nodes of a user of its own, relaying a stream of its own live since before the week."""
    tag = f"bench-storage-{uuid.uuid4().hex[:8]}"  # apart from whatever else the database holds
    owner = User.objects.create_user(tag)
    stream, key = stream_services.create_stream(owner=owner, slug=tag, reward_rate_per_hour=Decimal("10.00"))
    stream_services.admit_publish(
        stream_services.PublishRequest(origin=Origin.SRS, app="live", slug=tag, key=key, client_id="c")
    )
    start = (timezone.now() - (days + 2) * DAY).replace(hour=0, minute=0, second=0, microsecond=0)
    session = StreamSession.objects.get(stream=stream)
    StreamSession.objects.filter(pk=session.pk).update(started_at=start - HOUR)
    OriginMinute.objects.filter(stream=stream).delete()  # the publish just now is not in the week
    fleet = [
        Node(owner=owner, name=f"n{n}", public_url=f"http://n{n}.example:8090", api_key_hash=f"{tag}-{n:040d}")
        for n in range(nodes)
    ]
    Node.objects.bulk_create(fleet, batch_size=5000)
    ids = list(Node.objects.filter(owner=owner).order_by("pk").values_list("pk", flat=True))
    return stream, session, ids, ids[::VIEWER_SHARE], start


def measure(nodes: int, days: int = DAYS) -> Measured:
    if connection.vendor != "postgresql":
        raise SystemExit("bench/storage.py needs PostgreSQL (pg_total_relation_size): set DATABASE_URL=postgres://…")
    stream, session, fleet, viewers, start = prepare(nodes, days)
    found = Measured(nodes, len(viewers))
    vacuum()
    baseline = sizes()
    with override_settings(RETENTION_DAYS=RETENTION_DAYS, SPOT_CHECK_FAILURE_RETENTION_DAYS=RETENTION_DAYS):
        for day in range(days):
            began = time.perf_counter()
            first = start + day * DAY
            end = first + DAY
            load_day(stream, session, fleet, viewers, first)
            for hour in range(24):
                services.settle_stream_hour(stream, first + hour * HOUR)
            services.vest_due(now=end)
            if day == 0:  # before anything is pruned: what a node-hour costs
                grown = sizes()
                node_hours, viewer_hours = nodes * 24, len(viewers) * 24
                found.per_node_hour = sum(grown[n] - baseline[n] for n in PER_NODE) / node_hours
                found.raw_per_node_hour = raw_bytes(PER_NODE, first, end) / node_hours
                found.per_viewer_hour = sum(grown[n] - baseline[n] for n in PER_VIEWER) / viewer_hours
                found.raw_per_viewer_hour = raw_bytes(PER_VIEWER, first, end) / viewer_hours
                found.money_per_node_hour = sum(grown[n] - baseline[n] for n in MONEY) / node_hours
            found.pruned.append(prune_expired(now=end, budget_seconds=3600))
            vacuum()
            now_sizes = sizes()
            found.sizes.append({name: now_sizes[name] - baseline[name] for name in now_sizes})
            found.seconds.append(time.perf_counter() - began)
    return found


def rows(nodes: int) -> list[Row]:
    """``make bench``'s rows, measured in the test database the caller already created."""
    return _rows(measure(nodes))


def _rows(found: Measured) -> list[Row]:
    return [
        Row(
            what=f"storage per node-hour ({found.nodes:,} nodes: buckets, checks, pulls)",
            figure=found.per_node_hour,
            unit="B",
            ceiling_what="raw row size x rows (no indexes)",
            ceiling=found.raw_per_node_hour,
            target=f"steady state ~ RETENTION_DAYS ({settings.RETENTION_DAYS}) + 1 days of this",
            higher_is_better=False,
        ),
        Row(
            what=f"table size day {len(found.sizes)} / day 3 (flat)",
            figure=found.total(len(found.sizes) - 1) / found.total(2),
            unit="x",
            ceiling_what="flat",
            ceiling=1.0,
            target="flat once pruning starts",
            higher_is_better=False,
        ),
    ]


def main(nodes: int, days: int = DAYS) -> None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise SystemExit("bench/storage.py needs PostgreSQL (pg_total_relation_size): set DATABASE_URL=postgres://…")
    with test_database():
        found = measure(nodes, days)
    mb = 1024 * 1024
    print(
        f"{found.nodes:,} nodes, {found.viewers:,} viewers, {len(found.sizes)} simulated days; "
        f"RETENTION_DAYS={RETENTION_DAYS} "
        f"for the bench (production default {settings.RETENTION_DAYS}); sizes after each day's prune + VACUUM, MiB:"
    )
    names = [*GROWING, *MONEY]
    print(f"{'day':<4}" + "".join(f"{name[:12]:>13}" for name in names) + f"{'growing':>10}{'pruned rows':>13}{'s':>6}")
    for day, day_sizes in enumerate(found.sizes):
        print(
            f"{day + 1:<4}"
            + "".join(f"{day_sizes[name] / mb:13.1f}" for name in names)
            + f"{found.total(day) / mb:10.1f}{sum(found.pruned[day].values()):13,}{found.seconds[day]:6.1f}"
        )
    steady = found.total(len(found.sizes) - 1)
    print(
        f"day 1, before pruning: {found.per_node_hour:,.0f} B per node-hour in minute buckets, spot-checks and "
        f"origin connections (raw rows {found.raw_per_node_hour:,.0f} B); {found.per_viewer_hour:,.0f} B per "
        f"viewer-hour in segment reports, attested minutes and watchers (raw rows {found.raw_per_viewer_hour:,.0f} B); "
        f"{found.money_per_node_hour:,.0f} B per node-hour of ledger, settlements, vestings (kept for good)"
    )
    print(
        f"steady state: {steady / mb:,.1f} MiB = {steady / found.nodes / 1024:,.0f} KiB per node "
        f"for {RETENTION_DAYS} days' retention. Projected, 10,000 nodes at RETENTION_DAYS={settings.RETENTION_DAYS}: "
        f"~ {found.per_node_hour * 24 * (settings.RETENTION_DAYS + 1) * 10_000 / 1e9:,.1f} GB of per-node tables; "
        f"10,000 viewers (segment reports kept a day): ~ {found.per_viewer_hour * 24 * 2 * 10_000 / 1e9:,.1f} GB"
    )
    print()
    print_rows(_rows(found))


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3])) if len(sys.argv) > 1 else main(60)
