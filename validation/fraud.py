"""Fraud signals beyond spot-checks, each recorded as an open FraudFlag with its evidence."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone

from nodes.models import Node, NodeMinute
from validation.models import FlagKind, FraudFlag

SYBIL_MIN_NODES = 3  # this many nodes behind one relay host
LOOKBACK = timedelta(hours=1)


def flag(node_id: int, kind: str, evidence: dict[str, Any]) -> bool:
    """Open a flag unless one of this kind is already open for the node."""
    try:
        with transaction.atomic():
            FraudFlag.objects.create(node_id=node_id, kind=kind, detected_at=timezone.now(), evidence=evidence)
    except IntegrityError:
        return False
    return True


def detect_sybils() -> int:
    """Several nodes whose public URLs point at one host: one machine claiming many relays."""
    by_host: dict[str, list[int]] = defaultdict(list)
    for pk, url in Node.objects.exclude(approval="suspended").values_list("pk", "public_url"):
        by_host[(urlsplit(url).hostname or "").lower()].append(pk)
    opened = 0
    for host, ids in by_host.items():
        if host and len(ids) >= SYBIL_MIN_NODES:
            opened += sum(flag(pk, FlagKind.SYBIL, {"host": host, "nodes": ids}) for pk in ids)
    return opened


def detect_bytes_beyond_viewers() -> int:
    """A minute whose claimed bytes exceed what its peak viewers could draw at the stream's rate."""
    per_viewer = settings.FRAUD_MAX_BYTES_PER_VIEWER_MINUTE
    since = timezone.now() - LOOKBACK
    opened = 0
    for bucket in NodeMinute.objects.filter(minute__gte=since, bytes_served__gt=0).only(
        "node_id", "minute", "bytes_served", "max_viewers"
    ):
        allowed = (bucket.max_viewers + 1) * per_viewer  # +1: the spot-checker itself
        if bucket.bytes_served > allowed:
            evidence = {
                "minute": bucket.minute.isoformat(),
                "bytes": bucket.bytes_served,
                "viewers": bucket.max_viewers,
            }
            opened += flag(bucket.node_id, FlagKind.BYTES_BEYOND_VIEWERS, evidence)
    return opened


def detect_gap_bursts() -> int:
    """More heartbeats in a minute than the interval allows: a gap papered over by a burst."""
    since = timezone.now() - LOOKBACK
    opened = 0
    rows = (
        NodeMinute.objects.filter(minute__gte=since)
        .values("node_id", "node__heartbeat_interval")
        .annotate(peak=Max("heartbeats"), minutes=Count("pk"), beats=Sum("heartbeats"))
    )
    for row in rows:
        expected = 60 / max(row["node__heartbeat_interval"], 1)
        if row["peak"] > expected * 1.5 + 1:
            evidence = {"peak_heartbeats_in_a_minute": row["peak"], "expected": expected}
            opened += flag(row["node_id"], FlagKind.GAP_BURST, evidence)
    return opened


def detect_all() -> int:
    return detect_sybils() + detect_bytes_beyond_viewers() + detect_gap_bursts()
