"""Retention: prune what settlement, vesting and clawbacks no longer need (the hourly job).

Only this layer knows what is settled and what is not vested yet, so it decides what the apps
below keep; each app deletes its own rows (``nodes``, ``validation``, ``streams`` services), in
bounded chunks. Never pruned: the ledger, settlements, vestings, payouts, batches and the audit
log (append-only money), sessions, fraud flags, and the minutes of any hour settlement would
still pay (a stream live in it, no settlement yet), however old.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_q.models import Failure

from nodes import services as node_services
from rewards.models import Settlement
from rewards.services.ledger import unvested_credits
from streams import services as stream_services
from streams.models import StreamSession
from streams.services.retention import StreamHour
from validation import services as validation_services

log = logging.getLogger(__name__)
HOUR = timedelta(hours=1)
BUDGET_SECONDS = 60.0  # per run, well inside django-q2's task timeout; the rest waits an hour


def unsettled(candidates: set[StreamHour]) -> set[StreamHour]:
    """The stream-hours settlement would still pay: the stream had a live session in the hour and
    the hour has no settlement yet (settle_due settles it however old; until then its minutes are kept)."""
    if not candidates:
        return set()
    hours = [hour for _, hour in candidates]
    settled = Settlement.objects.filter(
        stream_id__in={stream_id for stream_id, _ in candidates}, hour__gte=min(hours), hour__lte=max(hours)
    )
    open_hours = candidates - set(settled.values_list("stream_id", "hour"))
    return {
        (stream_id, hour)
        for stream_id, hour in open_hours
        if StreamSession.objects.filter(stream_id=stream_id, started_at__lt=hour + HOUR)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=hour))
        .exists()
    }


def held_nodes(before: datetime) -> set[int]:
    """Nodes with an unvested credit for an hour that ended before ``before``: their spot-checks
    all stay, since vesting and clawbacks read every check after such a credit's hour."""
    credits = unvested_credits().filter(settlement__hour__lt=before, node__isnull=False)
    return set(credits.values_list("node_id", flat=True).distinct())


def prune_expired(*, now: datetime | None = None, budget_seconds: float = BUDGET_SECONDS) -> dict[str, int]:
    """Delete what grows with nodes x time or viewers x time once nothing needs it (RETENTION_DAYS;
    see each app's retention module for what stays). Idempotent; stops after ``budget_seconds``
    and goes on at the next run. Returns the rows deleted per table."""
    now = now or timezone.now()
    deadline = time.monotonic() + budget_seconds
    before = now - timedelta(days=settings.RETENTION_DAYS)
    failures_before = now - timedelta(days=settings.SPOT_CHECK_FAILURE_RETENTION_DAYS)
    keep = unsettled(
        node_services.minute_bucket_hours(before)
        | validation_services.attested_minute_hours(before)
        | stream_services.origin_minute_hours(before)
    )
    if keep:
        log.warning("retention: keeping the minutes of %d unsettled stream-hour(s) older than %s", len(keep), before)
    counts = node_services.prune_node_minutes(before=before, keep=keep, deadline=deadline)
    counts |= validation_services.prune_validation(
        before=before,
        failures_before=failures_before,
        keep=keep,
        hold=held_nodes(before),
        now=now,
        deadline=deadline,
    )
    counts |= stream_services.prune_streams(before=before, keep=keep, now=now, deadline=deadline)
    counts["failed_tasks"] = stream_services.delete_in_chunks(
        Failure.objects.filter(stopped__lt=before), deadline=deadline
    )
    if time.monotonic() >= deadline:
        log.warning("retention: stopped after %.0f s; the next run goes on", budget_seconds)
    log.info(
        "retention: pruned %s (older than %s)",
        ", ".join(f"{n} {table}" for table, n in counts.items()) or "nothing",
        before.isoformat(timespec="minutes"),
    )
    return counts
