"""Retention: spot-check records, viewers' reports and attested minutes, pruned once nothing
needs them.

- Attested minutes (what settlement pays bytes from): like minute buckets, kept until their hour
  is settled and older than the cutoff; the caller passes the stream-hours still unsettled.
- Spot-checks: trust is a running score (NodeTrust), not a re-read of history, so a check is
  needed only by vesting and clawbacks (the checks after an unvested credit's hour), by the
  provisional-failure rule (a node's newest check) and by people (appeals, the admin). Older than
  the cutoff, passing and unconfirmed checks go, except each node's newest and every check of the
  ``hold`` nodes (those with an unvested credit from before the cutoff); confirmed failures, the
  record behind clawbacks and suspensions, stay until ``failures_before``.
- Viewers' per-segment reports: a day, as ``delivery.prune_deliveries`` (audits read minutes).
- Origin fingerprints: ORIGIN_HISTORY_SECONDS, as ``record_origin_frames`` (also for streams no
  longer sampled, whose frames that never drops).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from streams.services.retention import StreamHour, delete_in_chunks, outside, stream_hours
from validation.models import AttestedMinute, DeliveredSegment, OriginFrame, Outcome, SpotCheck
from validation.services.delivery import KEEP_DELIVERIES


def attested_minute_hours(before: datetime) -> set[StreamHour]:
    """Stream-hours of the attested minutes older than ``before``: the caller decides which to keep."""
    return stream_hours(AttestedMinute.objects.filter(minute__lt=before))


def prune_validation(
    *,
    before: datetime,
    failures_before: datetime,
    keep: Collection[StreamHour] = (),
    hold: Collection[int] = (),
    now: datetime | None = None,
    chunk: int | None = None,
    deadline: float | None = None,
) -> dict[str, int]:
    """Delete, in bounded chunks (idempotent): attested minutes older than ``before`` but those of
    the ``keep`` stream-hours; spot-checks older than ``before`` but each node's newest, the
    ``hold`` nodes' and confirmed failures newer than ``failures_before``; viewers' per-segment
    reports older than a day; origin fingerprints past the history window. Returns rows deleted."""
    now = now or timezone.now()
    newer = SpotCheck.objects.filter(node_id=OuterRef("node_id"), checked_at__gt=OuterRef("checked_at"))
    confirmed_failure = ~Q(outcome=Outcome.PASS) & Q(provisional=False)
    checks = (
        SpotCheck.objects.filter(Exists(newer), checked_at__lt=before)
        .exclude(node_id__in=list(hold))
        .exclude(confirmed_failure & Q(checked_at__gte=failures_before))
    )
    history = timedelta(seconds=settings.ORIGIN_HISTORY_SECONDS)
    return {
        "attested_minutes": delete_in_chunks(
            AttestedMinute.objects.filter(outside(keep), minute__lt=before), chunk=chunk, deadline=deadline
        ),
        "spot_checks": delete_in_chunks(checks, chunk=chunk, deadline=deadline),
        "delivered_segments": delete_in_chunks(
            DeliveredSegment.objects.filter(reported_at__lt=now - KEEP_DELIVERIES), chunk=chunk, deadline=deadline
        ),
        "origin_frames": delete_in_chunks(
            OriginFrame.objects.filter(seen_at__lt=now - history), chunk=chunk, deadline=deadline
        ),
    }
