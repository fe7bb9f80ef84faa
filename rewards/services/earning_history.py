"""A node's closed hours, each with what it earned and, when nothing, why (``earning.history``
adds the open hour in front). Read from what settlement read and wrote: the node's minute
buckets, the streams' sessions, the failed checks' windows, the settlements and the ledger;
a fixed handful of queries whatever the number of hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.db.models.functions import TruncHour

from nodes.models import Node, NodeMinute
from rewards.models import EntryKind, LedgerEntry, Settlement
from rewards.services.estimate import stream_hours
from rewards.split import sum_to_cents
from streams.models import StreamSession
from validation.models import Outcome, SpotCheck

HOUR = timedelta(hours=1)
ESTIMATED_HOURS = 3  # unsettled closed hours this recent show settlement's split so far
Verdict = tuple[datetime, Decimal, bool, str]


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _live_hours(first: datetime, end: datetime) -> set[datetime]:
    """The hours in [first, end) in which any stream had a live session."""
    sessions = StreamSession.objects.filter(started_at__lt=end).filter(Q(ended_at__isnull=True) | Q(ended_at__gt=first))
    hours: set[datetime] = set()
    for started, ended in sessions.values_list("started_at", "ended_at"):
        hour = max(_utc(started).replace(minute=0, second=0, microsecond=0), first)
        until = min(ended or end, end)
        while hour < until:
            hours.add(hour)
            hour += HOUR
    return hours


def _voided(node: Node, first: datetime, end: datetime) -> list[tuple[datetime, datetime, SpotCheck]]:
    """The node's failed-check windows overlapping [first, end): settlement's rule (a confirmed
    failed check voids the time since the node's previous check, or since it registered)."""
    previous = SpotCheck.objects.filter(node=node, provisional=False, checked_at__lt=OuterRef("checked_at"))
    failed = (
        SpotCheck.objects.filter(node=node, provisional=False, checked_at__gt=first)
        .exclude(outcome=Outcome.PASS)
        .annotate(previous=Subquery(previous.order_by("-checked_at").values("checked_at")[:1]))
    )
    windows: list[tuple[datetime, datetime, SpotCheck]] = []
    for check in failed.order_by("checked_at"):  # one query, each check's previous one beside it
        since: datetime = check.previous or node.created_at
        if since < end:
            windows.append((since, check.checked_at, check))
    return windows


def hour_verdicts(node: Node, first: datetime, end: datetime) -> list[Verdict]:
    """(hour, earned, ok, why) for each hour in [first, end), newest first."""
    credits = (
        LedgerEntry.objects.filter(
            kind=EntryKind.CREDIT, node=node, settlement__hour__gte=first, settlement__hour__lt=end
        )
        .values("settlement__hour")
        .annotate(
            total=Sum("amount"),
            verified=Sum("minutes"),
            clawed=Sum("amount", filter=Q(clawback__isnull=False)),
        )
    )
    paid = {_utc(row["settlement__hour"]): row for row in credits}
    settled = {_utc(h) for h in Settlement.objects.filter(hour__gte=first, hour__lt=end).values_list("hour", flat=True)}
    buckets = (
        NodeMinute.objects.filter(node=node, minute__gte=first, minute__lt=end)
        .annotate(hour=TruncHour("minute"))
        .values("hour")
        .annotate(
            beats=Count("pk"),
            healthy=Count("pk", filter=Q(healthy_heartbeats__gt=0)),
            relayed=Count("pk", filter=Q(healthy_heartbeats__gt=0, stream__isnull=False)),
        )
    )
    minutes = {_utc(row["hour"]): row for row in buckets}
    live = _live_hours(first, end)
    voided = _voided(node, first, end)
    found: list[Verdict] = []
    hour = end - HOUR
    while hour >= first:
        found.append(
            _verdict(node, hour, end, paid.get(hour), hour in settled, minutes.get(hour), hour in live, voided)
        )
        hour -= HOUR
    return found


def _verdict(
    node: Node,
    hour: datetime,
    end: datetime,
    paid: dict[str, object] | None,
    settled: bool,
    minutes: dict[str, int] | None,
    live: bool,
    voided: list[tuple[datetime, datetime, SpotCheck]],
) -> Verdict:
    currency = settings.CURRENCY
    zero = Decimal("0.00")
    if paid is not None:
        amount, clawed = sum_to_cents(paid["total"]), sum_to_cents(paid["clawed"])
        if amount - clawed > 0:
            return (
                hour,
                amount - clawed,
                True,
                f"Earned {amount - clawed} {currency} for {paid['verified']} verified minutes.",
            )
        return hour, zero, False, f"{amount} {currency} credited, then clawed back after a failed spot-check."
    if not live:
        return hour, zero, False, "No stream was live."
    if not minutes or not minutes["beats"]:
        return hour, zero, False, "Offline: no heartbeat this hour."
    if not minutes["healthy"]:
        return (
            hour,
            zero,
            False,
            "Relay unhealthy: heartbeats came, but the relay was not running or its segments were old.",
        )
    if not minutes["relayed"]:
        return hour, zero, False, "Not relaying an assigned stream (no assignment, or a different stream)."
    for since, until, check in voided:
        if since < hour + HOUR and until > hour:
            at = f"{_utc(check.checked_at):%H:%M} UTC"
            return hour, zero, False, f"Minutes voided by a failed spot-check ({check.get_outcome_display()} at {at})."
    if not settled:
        if hour >= end - ESTIMATED_HOURS * HOUR:
            share = sum((part.share(node.pk) for part in stream_hours(hour)), zero)
            return hour, share, share > 0, f"About {share} {currency}: the hour settles a few minutes after it ends."
        return hour, zero, False, "Not settled yet."
    return (
        hour,
        zero,
        False,
        "Nothing credited: the origin showed the stream alive in none of its minutes, the node was suspended, "
        "or its share was under a cent.",
    )
