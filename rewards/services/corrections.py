"""Corrections of a balance, under four eyes.

The ledger is never edited: a correction is a new entry. One admin alone may move at most
CORRECTION_SECOND_ADMIN_OVER within 24 hours (the absolute amounts of their own corrections added
up, across all accounts, so splitting a large correction into small ones, or over several sock
puppets, does not get around it). Anything beyond is a proposal that a different admin, who is not
its beneficiary either, confirms; only then is the entry written.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from rewards.models import AuditEntry, CorrectionProposal, EntryKind, LedgerEntry, ProposalState
from rewards.services import audit
from rewards.services.ledger import lock_account
from rewards.services.payouts import LARGEST, PayoutError, balance
from rewards.split import CENT

SOLO_WINDOW = timedelta(hours=24)  # what one admin moved alone counts against the limit this long


def check_correction(amount: Decimal, memo: str) -> str:
    """The cleaned memo of a valid correction; PayoutError otherwise."""
    if not memo.strip():
        raise PayoutError("memo_required", "Say why the balance is corrected.")
    if not amount.is_finite() or amount == 0 or abs(amount) >= LARGEST or amount != amount.quantize(CENT):
        raise PayoutError("bad_amount", f"A correction is a non-zero amount in whole cents, below {LARGEST:,}.")
    return memo.strip()


def _admin(actor: User, doing: str) -> None:
    """The second pair of eyes must be an admin's: a staff account that is still active."""
    if not (actor.is_active and actor.is_staff):
        raise PayoutError("not_an_admin", f"Only an admin may {doing}.", status=403)


def moved_alone(actor_id: int) -> Decimal:
    """The absolute amounts of the corrections ``actor_id`` wrote alone in the last 24 hours."""
    since = timezone.now() - SOLO_WINDOW
    rows = AuditEntry.objects.filter(action="ledger.corrected", actor_id=actor_id, at__gte=since)
    return sum((abs(Decimal(d["amount"])) for d in rows.values_list("details", flat=True)), Decimal("0.00"))


def needs_second_admin(actor: User, amount: Decimal) -> bool:
    """Whether this correction would take ``actor`` past what one admin may move alone."""
    return moved_alone(actor.pk) + abs(amount) > settings.CORRECTION_SECOND_ADMIN_OVER


def _lock(*user_ids: int) -> None:
    # Several accounts are locked in one order (by id), so two admins correcting each other
    # at the same moment cannot deadlock.
    for user_id in sorted(set(user_ids)):
        lock_account(user_id)


def _write(user_id: int, amount: Decimal, memo: str) -> tuple[LedgerEntry, Decimal]:
    before = balance(user_id)
    entry = LedgerEntry.objects.create(user_id=user_id, kind=EntryKind.CORRECTION, amount=amount, memo=memo[:200])
    return entry, before


def add_correction(user_id: int, amount: Decimal, *, actor: User, memo: str) -> LedgerEntry:
    """Correct a balance with a new entry, one admin alone: negative to take back money credited
    wrongly (the balance may go negative), positive to add. Beyond what one admin may move alone
    it is refused (``second_admin_required``): propose it instead."""
    memo = check_correction(amount, memo)
    if actor.pk == user_id:
        raise PayoutError("own_balance", "Nobody corrects their own balance: ask another admin.", status=403)
    limit = settings.CORRECTION_SECOND_ADMIN_OVER
    with transaction.atomic():
        _lock(actor.pk, user_id)  # the actor's lock makes two of their corrections count in turn
        if needs_second_admin(actor, amount):
            raise PayoutError(
                "second_admin_required",
                f"One admin alone corrects at most {limit} {settings.CURRENCY} in 24 hours (this one and your "
                f"others added up): propose it, and another admin confirms it.",
                status=409,
            )
        entry, before = _write(user_id, amount, memo)
        audit.record("ledger.corrected", actor=actor, user_id=user_id, amount=amount, balance_before=before, memo=memo)
    return entry


def propose_correction(user_id: int, amount: Decimal, *, actor: User, memo: str) -> CorrectionProposal:
    """A correction that waits for a second admin (any amount may be proposed; above what one
    admin may move alone it must be). Proposing one for oneself is allowed: another admin decides."""
    memo = check_correction(amount, memo)
    _admin(actor, "propose a correction")
    with transaction.atomic():
        proposal = CorrectionProposal.objects.create(user_id=user_id, amount=amount, memo=memo[:200], proposed_by=actor)
        audit.record("correction.proposed", actor=actor, user_id=user_id, proposal=proposal, amount=amount, memo=memo)
    return proposal


def _pending(proposal: CorrectionProposal, doing: str) -> CorrectionProposal:
    """The proposal locked (after its account: the one lock order, user first), still pending."""
    lock_account(proposal.user_id)
    locked = CorrectionProposal.objects.select_for_update().get(pk=proposal.pk)
    if locked.state != ProposalState.PENDING:
        raise PayoutError(
            "wrong_status", f"Proposal {locked.pk} is {locked.state}; only pending ones can be {doing}.", status=409
        )
    return locked


def confirm_correction(proposal: CorrectionProposal, *, actor: User) -> LedgerEntry:
    """The second admin's yes: writes the ledger entry. Refused to the proposer and to the account's
    owner, whoever proposed it."""
    _admin(actor, "confirm a correction")
    with transaction.atomic():
        locked = _pending(proposal, "confirmed")
        if actor.pk == locked.proposed_by_id:
            raise PayoutError(
                "same_admin", f"You proposed correction {locked.pk}: a different admin must confirm it.", status=403
            )
        if actor.pk == locked.user_id:
            raise PayoutError("own_balance", "Nobody confirms a correction of their own balance.", status=403)
        entry, before = _write(locked.user_id, locked.amount, locked.memo)
        locked.state, locked.decided_by, locked.decided_at = ProposalState.CONFIRMED, actor, timezone.now()
        locked.entry = entry
        locked.save(update_fields=["state", "decided_by", "decided_at", "entry"])
        audit.record(
            "correction.confirmed",
            actor=actor,
            user_id=locked.user_id,
            proposal=locked,
            amount=locked.amount,
            balance_before=before,
            proposed_by=locked.proposed_by_id,
            entry=entry.pk,
        )
    return entry


def reject_correction(proposal: CorrectionProposal, *, actor: User, reason: str = "") -> CorrectionProposal:
    """Refuse a pending proposal (its proposer may withdraw it); nothing reaches the ledger."""
    _admin(actor, "reject a correction")
    reason = reason.strip()[:200]
    with transaction.atomic():
        locked = _pending(proposal, "rejected")
        locked.state, locked.decided_by, locked.decided_at = ProposalState.REJECTED, actor, timezone.now()
        locked.reason = reason
        locked.save(update_fields=["state", "decided_by", "decided_at", "reason"])
        audit.record(
            "correction.rejected",
            actor=actor,
            user_id=locked.user_id,
            proposal=locked,
            amount=locked.amount,
            proposed_by=locked.proposed_by_id,
            reason=reason,
        )
    return locked
