"""Read-only views of the ledger: a friend's earnings over time, leaderboards, per-stream payouts.

They read credit entries alone (each carries the verified minutes and bytes it pays for), so they
never touch minute buckets and cost one grouped query each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from rewards.models import EntryKind, LedgerEntry, Settlement
from rewards.split import sum_to_cents

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def _credits(since: datetime) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(kind=EntryKind.CREDIT, settlement__hour__gte=since)


def earned_today_by_node(user_id: int, *, now: datetime | None = None) -> dict[int, Decimal]:
    """Credits for hours relayed since midnight UTC, per node."""
    midnight = (now or timezone.now()).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = _credits(midnight).filter(user_id=user_id).values("node_id").annotate(amount=Sum("amount"))
    return {row["node_id"]: sum_to_cents(row["amount"]) for row in rows}


def earnings(user_id: int, *, by: str, since: datetime) -> dict[str, Any]:
    """The user's credits per hour or day (of the hour relayed, not of settlement) and per node."""
    trunc = TruncHour if by == "hour" else TruncDay
    mine = _credits(since).filter(user_id=user_id)
    periods = (
        mine.annotate(period=trunc("settlement__hour"))
        .values("period")
        .annotate(amount=Sum("amount"), minutes=Sum("minutes"), sent=Sum("bytes_served"))
        .order_by("period")
    )
    nodes = (
        mine.values("node_id", "node__name")
        .annotate(amount=Sum("amount"), minutes=Sum("minutes"), sent=Sum("bytes_served"))
        .order_by("-amount", "node_id")
    )
    return {
        "periods": [
            {
                "start": p["period"],
                "amount": sum_to_cents(p["amount"]),
                "minutes": p["minutes"],
                "bytes_served": p["sent"],
            }
            for p in periods
        ],
        "nodes": [
            {
                "node_id": n["node_id"],
                "name": n["node__name"],
                "amount": sum_to_cents(n["amount"]),
                "minutes": n["minutes"],
                "bytes_served": n["sent"],
            }
            for n in nodes
        ],
        "total": sum((sum_to_cents(p["amount"]) for p in periods), Decimal("0.00")),
    }


@dataclass(frozen=True)
class Leaderboard:
    since: datetime
    nodes: list[dict[str, Any]]
    friends: list[dict[str, Any]]


def leaderboard(window: str, *, limit: int = 20, now: datetime | None = None) -> Leaderboard:
    """Nodes and friends ranked by earnings in the window, then by verified minutes. Uptime is the
    share of the settled hours' minutes (hours any stream was live and settled) that the node
    relayed and passed verification for: an hour nobody streamed, or not settled yet, counts neither way."""
    now = now or timezone.now()
    since = now.replace(minute=0, second=0, microsecond=0) - WINDOWS[window]
    credits = _credits(since)
    hours = Settlement.objects.filter(hour__gte=since).values("hour").distinct().count()
    window_minutes = Decimal(max(hours, 1) * 60)
    node_rows = (
        credits.values("node_id", "node__name", "user__username")
        .annotate(earned=Sum("amount"), minutes=Sum("minutes"))
        .order_by("-earned", "-minutes", "node_id")[:limit]
    )
    friend_rows = (
        credits.values("user_id", "user__username")
        .annotate(earned=Sum("amount"), minutes=Sum("minutes"), nodes=Count("node_id", distinct=True))
        .order_by("-earned", "-minutes", "user_id")[:limit]
    )

    def uptime(minutes: int) -> Decimal:
        return min(Decimal(100), Decimal(minutes) * 100 / window_minutes).quantize(Decimal("0.1"))

    return Leaderboard(
        since=since,
        nodes=[
            {
                "rank": rank,
                "node_id": r["node_id"],
                "name": r["node__name"],
                "friend": r["user__username"],
                "earned": sum_to_cents(r["earned"]),
                "verified_minutes": r["minutes"],
                "uptime_percent": uptime(r["minutes"]),
            }
            for rank, r in enumerate(node_rows, start=1)
        ],
        friends=[
            {
                "rank": rank,
                "friend": r["user__username"],
                "earned": sum_to_cents(r["earned"]),
                "verified_minutes": r["minutes"],
                "nodes": r["nodes"],
            }
            for rank, r in enumerate(friend_rows, start=1)
        ],
    )


def stream_payouts(since: datetime, *, names: bool = False) -> dict[str, dict[str, Any]]:
    """Per stream since ``since``: pools, credits and each node's earnings (the public /payouts).

    Never whose node it is. Node names (often a friend's name or place: "alice-den") only with
    ``names`` (a signed-in caller); otherwise each node's ``name`` is its id, so the shape that
    tools read stays the same."""
    found: dict[str, dict[str, Any]] = {}
    settled = (
        Settlement.objects.filter(hour__gte=since)
        .values("stream__slug")
        .annotate(pool=Sum("pool"), credited=Sum("credited"), hours=Count("pk"), live=Sum("live_seconds"))
        .order_by("stream__slug")
    )
    for row in settled:
        found[row["stream__slug"]] = {
            "total_pool": sum_to_cents(row["pool"]),
            "total_credited": sum_to_cents(row["credited"]),
            "hours_settled": row["hours"],
            "live_seconds": row["live"],
            "individual_earnings": {},
            "nodes": {},
        }
    shares = (
        _credits(since)
        .values("stream__slug", "node_id", "node__name")
        .annotate(amount=Sum("amount"), minutes=Sum("minutes"))
        .order_by("stream__slug", "-amount", "node_id")
    )
    for share in shares.filter(~Q(stream__isnull=True)):
        stream = found.get(share["stream__slug"])
        if stream is None:
            continue
        key = str(share["node_id"])
        stream["individual_earnings"][key] = sum_to_cents(share["amount"])
        stream["nodes"][key] = {
            "name": share["node__name"] if names else key,
            "amount": sum_to_cents(share["amount"]),
            "verified_minutes": share["minutes"],
        }
    return found
