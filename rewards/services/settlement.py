"""Settlement: each closed stream-hour's pool, split by verified contribution, into the ledger.

Reads minute buckets (never raw heartbeats), the stream's sessions (how long it was live),
validation's failed-check windows and the bytes viewers attested (never a node's own counters
alone). One transaction per stream-hour; the unique constraint on
(stream, hour) makes a repeated or concurrent run credit nothing twice.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from core import live
from core.errors import ServiceError
from nodes.models import Approval, NodeMinute, endpoint_key
from rewards.events import Credited
from rewards.models import Settlement
from rewards.services.ledger_writes import node_totals, write_credits
from rewards.split import split_pool, to_cents
from streams import services as stream_services
from streams.models import OriginMinute, Stream, StreamSession
from validation.models import AttestedMinute
from validation.services import attested_bytes, failed_windows

log = logging.getLogger(__name__)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
BUDGET_SECONDS = 60.0  # per settle_due run, well inside django-q2's 120 s task timeout


class SettlementError(ServiceError):
    pass


@dataclass(frozen=True)
class Contribution:
    node_id: int
    user_id: int
    minutes: int  # minutes relayed: healthy, outside failed-check windows
    bytes_served: int  # viewer-attested bytes of those minutes, at most what the node claimed
    uptime: Decimal  # its uptime share in minutes: nodes behind one address share each minute


def hour_start(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def live_seconds(stream: Stream, start: datetime) -> int:
    """Seconds of the hour the stream was live and its origin showed it alive: of each minute the
    origin was seen alive in, the part inside a live session. A session whose origin died without
    an unpublish pays nothing after its last sign of life."""
    end = start + HOUR
    sessions = list(
        StreamSession.objects.filter(stream=stream, started_at__lt=end).filter(
            Q(ended_at__isnull=True) | Q(ended_at__gt=start)
        )
    )
    total = 0.0
    for minute in stream_services.alive_minutes(stream, start, end):
        minute_end = minute + MINUTE
        for session in sessions:
            until = min(session.ended_at or minute_end, minute_end)
            total += max(0.0, (until - max(session.started_at, minute)).total_seconds())
    return int(min(total, 3600))


def contributions(stream: Stream, start: datetime) -> list[Contribution]:
    """Per node: the minutes it relayed (buckets of the hour attributed to this stream, with at
    least one healthy heartbeat, of nodes not suspended, outside failed-check windows), the bytes
    viewers attest it delivered in those minutes (capped by what it claimed: its own counters
    never pay by themselves), and its uptime share, where each minute counts once per address.
    Only minutes in which the origin was seen alive count.

    Totals come from one aggregate query (``node_totals``); minute by minute only for the few
    nodes that need it (a failed check, a shared address, viewers' reports)."""
    end = start + HOUR
    alive = stream_services.alive_minutes(stream, start, end)  # minutes the origin vouched for
    healthy = NodeMinute.objects.filter(_within(alive), stream=stream, healthy_heartbeats__gt=0)
    buckets = healthy.exclude(node__approval=Approval.SUSPENDED)
    voided: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for node_id, since, until in failed_windows(start, end):
        voided[node_id].append((since, until))
    attested = attested_bytes(stream.pk, start, end)
    owner: dict[int, int] = {}
    place: dict[int, str] = {}
    minutes: dict[int, int] = {}
    claimed: dict[int, int] = {}
    for node_id, user_id, endpoint, public_url, n, sent in node_totals(healthy.exclude(node_id__in=voided)):
        owner[node_id], minutes[node_id], claimed[node_id] = user_id, n, sent
        place[node_id] = endpoint_key(endpoint, public_url)
    detail: dict[int, dict[datetime, int]] = {}  # node -> its counted minutes and claimed bytes

    def load(node_ids: set[int]) -> None:
        rows = buckets.filter(node_id__in=node_ids).values_list(
            "node_id", "node__owner_id", "node__endpoint", "node__public_url", "minute", "bytes_served"
        )
        for node_id, user_id, endpoint, public_url, minute, sent in rows.iterator(chunk_size=5000):
            if any(since <= minute < until for since, until in voided.get(node_id, ())):
                continue
            detail.setdefault(node_id, {})[minute] = sent
            owner[node_id], place[node_id] = user_id, endpoint_key(endpoint, public_url)

    load(set(voided))
    for node_id in voided:
        if node_id in detail:
            minutes[node_id], claimed[node_id] = len(detail[node_id]), sum(detail[node_id].values())
    # One machine, one uplink: the nodes behind one address share each minute any of them relayed.
    behind: dict[str, list[int]] = defaultdict(list)
    for node_id, key in place.items():
        if minutes.get(node_id):
            behind[key or f"node-{node_id}"].append(node_id)
    shared = {node_id for members in behind.values() if len(members) > 1 for node_id in members}
    load((shared | {node_id for node_id, _ in attested}) - set(detail))
    uptime: dict[int, Decimal] = {}
    for members in behind.values():
        if len(members) == 1:  # the usual case: a minute is the node's own
            uptime[members[0]] = Decimal(minutes[members[0]])
            continue
        sharing: dict[datetime, int] = defaultdict(int)
        for node_id in members:
            for minute in detail[node_id]:
                sharing[minute] += 1
        for node_id in members:
            uptime[node_id] = sum((Decimal(1) / sharing[minute] for minute in detail[node_id]), Decimal(0))
    found = []
    for node_id in uptime:
        seen = sum(attested.get((node_id, minute), 0) for minute in detail.get(node_id, ()))
        found.append(
            Contribution(node_id, owner[node_id], minutes[node_id], min(seen, claimed[node_id]), uptime[node_id])
        )
    return found


def _within(minutes: set[datetime]) -> Q:
    """Buckets in these minutes, as ranges of consecutive minutes: ranges, not equality, because
    the heartbeat path's raw upsert and the ORM write datetimes differently on SQLite."""
    if not minutes:
        return Q(pk__in=[])
    runs: list[list[datetime]] = []
    for minute in sorted(minutes):
        if runs and minute - runs[-1][1] == MINUTE:
            runs[-1][1] = minute
        else:
            runs.append([minute, minute])
    found = Q()
    for first, last in runs:
        found |= Q(minute__gte=first, minute__lt=last + MINUTE)
    return found


def weights(found: list[Contribution]) -> dict[int, Decimal]:
    """Each node's share of the uptime and of the attested bytes, mixed by the configured weights."""
    uptime = sum((c.uptime for c in found), Decimal(0))
    sent = sum(c.bytes_served for c in found)
    minute_weight = Decimal(settings.SETTLEMENT_MINUTES_WEIGHT)
    bytes_weight = Decimal(1) - minute_weight if sent else Decimal(0)
    if not sent:
        minute_weight = Decimal(1)
    return {
        c.node_id: minute_weight * c.uptime / uptime
        + (bytes_weight * Decimal(c.bytes_served) / Decimal(sent) if sent else Decimal(0))
        for c in found
    }


def _closed(moment: datetime) -> datetime:
    start = hour_start(moment)
    if start + HOUR > timezone.now():
        raise SettlementError("hour_open", f"The hour {start:%Y-%m-%d %H:00} has not ended yet.")
    return start


@dataclass(frozen=True)
class Split:
    """What an hour of a stream pays each node, on the data recorded so far."""

    live_seconds: int
    pool: Decimal
    contributions: list[Contribution]
    shares: dict[int, Decimal]  # node id -> whole cents; nodes whose share rounds to 0 are absent


def split_hour(stream: Stream, start: datetime) -> Split:
    """The pool of the hour starting at ``start`` and each node's share of it, from what is recorded
    now. The one computation of pay: settlement credits it for a closed hour, and the open hour's
    estimate (``rewards.services.estimate``) shows it for the hour so far; the rules live here only."""
    seconds = live_seconds(stream, start)
    pool = to_cents(stream.reward_rate_per_hour * Decimal(seconds) / Decimal(3600))
    found = contributions(stream, start)
    shares = split_pool(pool, weights(found)) if found else {}
    return Split(seconds, pool, found, shares)


def settle_stream_hour(stream: Stream, start: datetime) -> Settlement | None:
    """Settle one closed hour of one stream; None when it was settled before (nothing credited)."""
    start = _closed(start)
    if Settlement.objects.filter(stream=stream, hour=start).exists():
        return None
    began = time.monotonic()
    split = split_hour(stream, start)
    seconds, pool, shares = split.live_seconds, split.pool, split.shares
    by_node = {c.node_id: c for c in split.contributions}
    memo = f"{stream.slug} {start:%Y-%m-%d %H:00} UTC"
    try:
        with transaction.atomic():
            settlement = Settlement.objects.create(
                stream=stream,
                hour=start,
                live_seconds=seconds,
                pool=pool,
                credited=sum(shares.values(), Decimal(0)),
                nodes=len(shares),
            )
            credits = [(by_node[node_id], amount) for node_id, amount in sorted(shares.items())]
            write_credits(
                settlement.pk,
                stream.pk,
                memo,
                ((c.user_id, c.node_id, a, c.minutes, c.bytes_served) for c, a in credits),
            )
            took = int((time.monotonic() - began) * 1000)
            Settlement.objects.filter(pk=settlement.pk).update(duration_ms=took)
            settlement.duration_ms = took
            per_user: dict[int, Decimal] = defaultdict(Decimal)
            for c, amount in credits:
                per_user[c.user_id] += amount
            for user_id, amount in per_user.items():  # one push per friend, sent after commit
                live.push(Credited(audience=user_id, stream=stream.slug, hour=start, amount=amount))
    except IntegrityError:
        return None  # another worker settled this hour first
    log.info("settled %s %s: pool %s to %d node(s)", stream.slug, start, pool, len(shares))
    return settlement


def streams_live_in(start: datetime) -> QuerySet[Stream]:
    """The streams a session of which was live during the hour starting at ``start`` (so far)."""
    touched = StreamSession.objects.filter(started_at__lt=start + HOUR).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=start)
    )
    return Stream.objects.filter(pk__in=touched.values("stream_id")).order_by("slug")


def settle_hour(start: datetime) -> list[Settlement]:
    """Settle every stream that was live during the hour starting at ``start``."""
    start = _closed(start)
    done = []
    for stream in streams_live_in(start):
        settlement = settle_stream_hour(stream, start)
        if settlement is not None:
            done.append(settlement)
    return done


def settle_due(
    now: datetime | None = None, lookback_hours: int = 24, *, budget_seconds: float = BUDGET_SECONDS
) -> list[Settlement]:
    """Settle every closed hour not settled yet, however old, oldest first, leaving late heartbeats
    a grace. Always the last ``lookback_hours``; before them, back to the oldest minute still kept
    (retention prunes an hour's minutes only once it is settled, so an unsettled hour's are always
    there: the scan is bounded by what is kept, about RETENTION_DAYS, not by all history). Stops
    after ``budget_seconds`` (django-q2 kills a task at 120 s); the next run goes on where it
    stopped. Each stream-hour settles exactly once (``settle_stream_hour``)."""
    now = now or timezone.now()
    deadline = time.monotonic() + budget_seconds
    last = hour_start(now - timedelta(seconds=settings.SETTLEMENT_GRACE_SECONDS)) - HOUR
    first = last - (lookback_hours - 1) * HOUR
    oldest = _oldest_kept_minute()
    if oldest is not None and hour_start(oldest) < first:
        first = hour_start(oldest)
    done: list[Settlement] = []
    due = _unsettled(first, last)
    for n, (start, stream) in enumerate(due):
        if time.monotonic() >= deadline:
            log.warning(
                "settlement: stopped after %.0f s, %d stream-hour(s) left for the next run",
                budget_seconds,
                len(due) - n,
            )
            break
        settlement = settle_stream_hour(stream, start)
        if settlement is not None:
            done.append(settlement)
    return done


def _oldest_kept_minute() -> datetime | None:
    """The oldest minute any table settlement reads still holds: minute buckets (indexed by minute),
    and per stream its oldest origin and attested minute (indexed by stream and minute: one index
    probe per stream, never a scan)."""
    found = [NodeMinute.objects.aggregate(oldest=Min("minute"))["oldest"]]
    for model in (OriginMinute, AttestedMinute):
        first = model.objects.filter(stream=OuterRef("pk")).order_by("minute").values("minute")[:1]
        found.append(Stream.objects.aggregate(oldest=Min(Subquery(first)))["oldest"])
    return min((moment for moment in found if moment is not None), default=None)


def _unsettled(first: datetime, last: datetime) -> list[tuple[datetime, Stream]]:
    """The stream-hours in [first, last] in which a session of the stream was live and that have no
    settlement, oldest first: the sessions of the window (few rows) spread into hours, less the
    window's settlements (one query)."""
    sessions = StreamSession.objects.filter(started_at__lt=last + HOUR).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=first)
    )
    wanted: set[tuple[datetime, int]] = set()
    for stream_id, started, ended in sessions.values_list("stream_id", "started_at", "ended_at"):
        start = max(hour_start(started), first)
        until = min(ended or last + HOUR, last + HOUR)
        while start < until:
            wanted.add((start, stream_id))
            start += HOUR
    settled = Settlement.objects.filter(hour__gte=first, hour__lte=last).values_list("hour", "stream_id")
    wanted -= set(settled)
    streams = Stream.objects.in_bulk({stream_id for _, stream_id in wanted})
    return sorted(((start, streams[stream_id]) for start, stream_id in wanted), key=lambda d: (d[0], d[1].slug))
