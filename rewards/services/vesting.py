"""Vesting and clawback: a credit is payable only once the site has verified the time it pays for.

Spot-checks are samples, so a node is only known honest up to its last passing check. A credit
vests when a later passing check of its node covers its hour (checked after the hour ended), or
after VESTING_HOURS with no confirmed failed check of the node since the hour ended. A failed check claws
back, with new ledger entries, the node's unvested credits for hours that ended after its last
pass. A vested credit is never clawed back; a clawed-back one never vests. Both run under the
user's account lock, as payouts do, so they never race each other or a payout.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, Exists, ExpressionWrapper, OuterRef, Q, Value
from django.utils import timezone

from rewards.models import EntryKind, LedgerEntry, Vesting
from rewards.services.ledger import lock_account, unvested_credits
from validation.models import Outcome, SpotCheck

log = logging.getLogger(__name__)
HOUR = timedelta(hours=1)


def _hour_end() -> ExpressionWrapper[Any]:
    return ExpressionWrapper(OuterRef("settlement__hour") + Value(HOUR), output_field=DateTimeField())


def vest_due(*, now: datetime | None = None) -> int:
    """Vest every credit whose hour a later pass covered, or that waited VESTING_HOURS unfailed."""
    now = now or timezone.now()
    # A confirmed failure after the hour (one inside it voided its minutes before settlement)
    # should have clawed the credit back; if that was lost (a crashed worker), the money waits:
    # only a pass with no confirmed failure between the hour's end and it covers the hour.
    hour_end_of_credit = ExpressionWrapper(
        OuterRef(OuterRef("settlement__hour")) + Value(HOUR), output_field=DateTimeField()
    )
    failed_before = SpotCheck.objects.filter(
        node=OuterRef("node_id"),
        provisional=False,
        checked_at__gte=hour_end_of_credit,
        checked_at__lt=OuterRef("checked_at"),
    ).exclude(outcome=Outcome.PASS)
    covered = SpotCheck.objects.filter(
        node=OuterRef("node_id"), outcome=Outcome.PASS, checked_at__gte=_hour_end()
    ).exclude(Exists(failed_before))
    failed = SpotCheck.objects.filter(node=OuterRef("node_id"), checked_at__gte=_hour_end(), provisional=False).exclude(
        outcome=Outcome.PASS
    )
    waited = now - timedelta(hours=settings.VESTING_HOURS) - HOUR
    due = (
        unvested_credits()
        .annotate(covered=Exists(covered), failed=Exists(failed))
        .filter(Q(covered=True) | Q(settlement__hour__lte=waited, failed=False))
        .values_list("pk", "user_id", "covered")
    )
    by_user: dict[int, dict[int, bool]] = defaultdict(dict)
    for pk, user_id, was_covered in due.iterator(chunk_size=5000):
        by_user[user_id][pk] = was_covered
    vested = 0
    for user_id, credits in by_user.items():
        with transaction.atomic():
            lock_account(user_id)  # a clawback of the same credits waits, then finds them vested
            # Decided again under the lock: a failure or clawback may have come in since.
            still = [row[0] for row in due.filter(user_id=user_id, pk__in=credits)]
            rows = [
                Vesting(credit_id=pk, reason="covered by a later pass" if credits[pk] else "waited without a failure")
                for pk in still
            ]
            Vesting.objects.bulk_create(rows, ignore_conflicts=True)
            vested += len(rows)
    if vested:
        log.info("vested %d credit(s) of %d friend(s)", vested, len(by_user))
    return vested


def claw_back(check: SpotCheck) -> list[LedgerEntry]:
    """After a failed check: take back the node's unvested credits for hours that ended after its
    last passing check before this one (all its unvested credits when it never passed)."""
    last_pass = (
        SpotCheck.objects.filter(node_id=check.node_id, outcome=Outcome.PASS, checked_at__lt=check.checked_at)
        .order_by("-checked_at")
        .values_list("checked_at", flat=True)
        .first()
    )
    credits = LedgerEntry.objects.filter(kind=EntryKind.CREDIT, node_id=check.node_id)
    if last_pass is not None:
        credits = credits.filter(settlement__hour__gt=last_pass - HOUR)
    user_id = credits.values_list("user_id", flat=True).first()
    if user_id is None:
        return []
    with transaction.atomic():
        lock_account(user_id)
        taken = [
            LedgerEntry(
                user_id=credit.user_id,
                kind=EntryKind.CLAWBACK,
                amount=-credit.amount,
                node_id=credit.node_id,
                stream_id=credit.stream_id,
                reverses=credit,
                memo=f"clawback: {check.outcome} check {check.pk} of node {check.node_id}",
            )
            for credit in unvested_credits(user_id).filter(pk__in=credits.values("pk"))
        ]
        LedgerEntry.objects.bulk_create(taken)
    if taken:
        log.warning(
            "clawed back %d unvested credit(s) of node %s after a %s check", len(taken), check.node_id, check.outcome
        )
    return taken
