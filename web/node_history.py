"""One node's history over 24 hours (per hour) or 7 days (per day), for its page.

Every figure is one grouped query, aggregated by the database per period (never a Python loop over
minute rows: a week of one node is ~10,000 buckets), so the page costs the same few queries for any
window (seven queries):
1. heartbeat buckets (NodeMinute): minutes online and healthy, the node's own claims (bytes, viewers);
2. viewer-attested delivery (AttestedMinute): the bytes viewers with tickets say they loaded;
3. viewers served (DeliveredSegment): distinct playback tickets per period and over the window (two
   queries; reports are kept one day, so older periods show none);
4. spot-checks: count, verdicts and latency per period and outcome;
5. the ledger: credits and clawbacks per hour relayed (a clawback counts in its credit's hour);
6. the newest spot-checks, for the table under the charts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDay, TruncHour
from django.utils import timezone

from nodes.models import Node, NodeMinute
from rewards.models import EntryKind, LedgerEntry
from rewards.split import sum_to_cents
from validation.models import AttestedMinute, DeliveredSegment, Outcome, SpotCheck
from validation.services.delivery import KEEP_DELIVERIES

RECENT_CHECKS = 12


@dataclass(frozen=True)
class Window:
    key: str
    by: str  # "hour" or "day"
    periods: int
    title: str

    @property
    def step(self) -> timedelta:
        return timedelta(hours=1) if self.by == "hour" else timedelta(days=1)

    @property
    def hours(self) -> int:
        return self.periods * (1 if self.by == "hour" else 24)


WINDOWS = {
    "24h": Window("24h", "hour", 24, "last 24 hours"),
    "7d": Window("7d", "day", 7, "last 7 days"),
}


@dataclass
class Period:
    start: datetime
    minutes: int  # minutes of the period the node could have been up (since it registered, until now)
    online_minutes: int = 0  # minutes with at least one heartbeat
    healthy_minutes: int = 0  # minutes with a heartbeat saying the relay ran with fresh segments
    claimed_bytes: int = 0  # what the node said it served
    claimed_viewers: int = 0  # the most viewers the node said it had in one minute
    attested_bytes: int = 0  # what viewers with tickets reported loading from it
    attested_minutes: int = 0
    viewers: int | None = None  # distinct viewers (tickets) served; None: reports no longer kept
    checks: int = 0
    passed: int = 0
    failed: int = 0  # counted failures (unconfirmed unreachable/timeouts left out)
    unconfirmed: int = 0
    latency_avg_ms: float | None = None
    latency_max_ms: int | None = None
    outcomes: dict[str, int] = field(default_factory=dict)
    earned: Decimal = Decimal("0.00")

    @property
    def uptime(self) -> float | None:
        """Share of the period's possible minutes with a heartbeat (None: the node did not exist yet)."""
        return min(1.0, self.online_minutes / self.minutes) if self.minutes else None

    @property
    def uptime_percent(self) -> float:
        return round((self.uptime or 0.0) * 100, 1)

    @property
    def verdicts(self) -> str:
        return ", ".join(f"{count} {outcome}" for outcome, count in sorted(self.outcomes.items())) or "-"


@dataclass
class NodeHistory:
    window: Window
    since: datetime
    periods: list[Period]  # oldest first
    recent_checks: list[SpotCheck]
    totals: dict[str, Any]


def _periods(node: Node, window: Window, now: datetime) -> list[Period]:
    if window.by == "hour":
        current = now.replace(minute=0, second=0, microsecond=0)
    else:
        current = now.replace(hour=0, minute=0, second=0, microsecond=0)
    starts = [current - window.step * i for i in range(window.periods - 1, -1, -1)]
    periods = []
    for start in starts:
        begin, end = max(start, node.created_at), min(start + window.step, now)
        possible = max(0, int((end - begin).total_seconds() // 60)) if end > begin else 0
        periods.append(Period(start=start, minutes=possible))
    return periods


def _by_period(rows: QuerySet[Any], periods: list[Period]) -> list[tuple[Period, dict[str, Any]]]:
    """Pairs each grouped row with its period (rows outside the window are dropped)."""
    index = {p.start: p for p in periods}
    return [(index[row["period"]], row) for row in rows if row["period"] in index]


def history(node: Node, window: Window, *, now: datetime | None = None) -> NodeHistory:
    now = now or timezone.now()
    periods = _periods(node, window, now)
    since = periods[0].start
    trunc = TruncHour if window.by == "hour" else TruncDay

    minutes = (
        NodeMinute.objects.filter(node=node, minute__gte=since)
        .annotate(period=trunc("minute"))
        .values("period")
        .annotate(
            online=Count("pk", filter=Q(heartbeats__gt=0)),
            healthy=Count("pk", filter=Q(healthy_heartbeats__gt=0)),
            claimed_bytes=Sum("bytes_served"),
            claimed_viewers=Max("max_viewers"),
        )
        .order_by()
    )
    for period, row in _by_period(minutes, periods):
        period.online_minutes = row["online"]
        period.healthy_minutes = row["healthy"]
        period.claimed_bytes = row["claimed_bytes"] or 0
        period.claimed_viewers = row["claimed_viewers"] or 0

    attested = (
        AttestedMinute.objects.filter(node=node, minute__gte=since)
        .annotate(period=trunc("minute"))
        .values("period")
        .annotate(attested_bytes=Sum("bytes"), attested_minutes=Count("minute", distinct=True))
        .order_by()
    )
    for period, row in _by_period(attested, periods):
        period.attested_bytes = row["attested_bytes"] or 0
        period.attested_minutes = row["attested_minutes"]

    kept_since = now - KEEP_DELIVERIES
    for period in periods:
        if period.start + window.step > kept_since:
            period.viewers = 0  # reports for (part of) this period are still kept: none means none
    viewers = (
        DeliveredSegment.objects.filter(node=node, reported_at__gte=since)
        .annotate(period=trunc("reported_at"))
        .values("period")
        .annotate(viewers=Count("ticket", distinct=True))
        .order_by()
    )
    for period, row in _by_period(viewers, periods):
        period.viewers = row["viewers"]
    # Over the whole window, distinct again (one viewer watching for three hours is one viewer).
    viewers_in_window = DeliveredSegment.objects.filter(node=node, reported_at__gte=since).aggregate(
        n=Count("ticket", distinct=True)
    )["n"]

    checks = (
        SpotCheck.objects.filter(node=node, checked_at__gte=since)
        .annotate(period=trunc("checked_at"))
        .values("period", "outcome", "provisional")
        .annotate(n=Count("pk"), latency_sum=Sum("latency_ms"), latency_max=Max("latency_ms"))
        .order_by()
    )
    latency_sums: dict[datetime, int] = {}
    for period, row in _by_period(checks, periods):
        period.checks += row["n"]
        period.outcomes[row["outcome"]] = period.outcomes.get(row["outcome"], 0) + row["n"]
        if row["outcome"] == Outcome.PASS:
            period.passed += row["n"]
        elif row["provisional"]:
            period.unconfirmed += row["n"]
        else:
            period.failed += row["n"]
        latency_sums[period.start] = latency_sums.get(period.start, 0) + (row["latency_sum"] or 0)
        period.latency_max_ms = max(period.latency_max_ms or 0, row["latency_max"] or 0)
    for period in periods:
        if period.checks:
            period.latency_avg_ms = latency_sums[period.start] / period.checks

    # Earnings per hour relayed: a credit's settlement hour; a clawback has no settlement of its own
    # and counts against the hour of the credit it reverses.
    earned = (
        LedgerEntry.objects.filter(node=node, kind__in=[EntryKind.CREDIT, EntryKind.CLAWBACK])
        .annotate(relayed=Coalesce(F("settlement__hour"), F("reverses__settlement__hour")))
        .filter(relayed__gte=since)
        .annotate(period=trunc("relayed"))
        .values("period")
        .annotate(amount=Sum("amount"))
        .order_by()
    )
    for period, row in _by_period(earned, periods):
        period.earned = sum_to_cents(row["amount"])

    recent = list(
        SpotCheck.objects.filter(node=node)
        .select_related("stream")
        .defer("evidence")  # can be kilobytes per check; the table shows none of it
        .order_by("-checked_at")[:RECENT_CHECKS]
    )
    totals = _totals(periods)
    totals["viewers"] = viewers_in_window
    return NodeHistory(window=window, since=since, periods=periods, recent_checks=recent, totals=totals)


def _totals(periods: list[Period]) -> dict[str, Any]:
    possible = sum(p.minutes for p in periods)
    online = sum(p.online_minutes for p in periods)
    checks = sum(p.checks for p in periods)
    latency = [p.latency_avg_ms * p.checks for p in periods if p.latency_avg_ms is not None]
    return {
        "uptime": min(1.0, online / possible) if possible else None,
        "online_minutes": online,
        "healthy_minutes": sum(p.healthy_minutes for p in periods),
        "online_seconds": online * 60,  # for the duration filter
        "healthy_seconds": sum(p.healthy_minutes for p in periods) * 60,
        "claimed_bytes": sum(p.claimed_bytes for p in periods),
        "claimed_viewers": max((p.claimed_viewers for p in periods), default=0),
        "attested_bytes": sum(p.attested_bytes for p in periods),
        "checks": checks,
        "passed": sum(p.passed for p in periods),
        "failed": sum(p.failed for p in periods),
        "unconfirmed": sum(p.unconfirmed for p in periods),
        "latency_avg_ms": sum(latency) / checks if checks else None,
        "latency_max_ms": max((p.latency_max_ms or 0 for p in periods), default=0) if checks else None,
        "earned": sum((p.earned for p in periods), Decimal("0.00")),
    }
