"""Balances, payout methods, payout requests and the admin's decisions on them.

Money never leaves twice: every change of a friend's payable money first locks that friend's user
row (one lock order everywhere: user, then payout), and the ledger's unique constraints allow one
debit and one reversal per payout, so even a path that forgot the lock could not debit twice.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone

from core import live
from core.errors import ServiceError
from rewards import notifications
from rewards.events import PayoutChanged
from rewards.models import (
    EntryKind,
    LedgerEntry,
    MethodKind,
    PayoutBatch,
    PayoutMethod,
    PayoutRequest,
    PayoutStatus,
)
from rewards.services import audit
from rewards.services.ledger import lock_account, unvested
from rewards.split import CENT, sum_to_cents
from validation.models import FraudFlag

LARGEST = Decimal(10**12)  # amounts are stored with 14 digits, 2 of them cents
VENMO_HANDLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{4,29}$")
BATCH_LIMIT = 5000  # rows PayPal accepts in one bulk-upload file
BATCH_METHODS = (MethodKind.PAYPAL, MethodKind.VENMO)  # manual payouts are paid by hand
SOLO_WINDOW = timedelta(hours=24)  # what one admin approved alone counts against the four-eyes limit this long


class PayoutError(ServiceError):
    pass


def balance(user_id: int) -> Decimal:
    """What the ledger owes the user: the sum of every entry (approved payouts are already debited)."""
    return sum_to_cents(LedgerEntry.objects.filter(user_id=user_id).aggregate(total=Sum("amount"))["total"])


def pending(user_id: int) -> Decimal:
    requested = PayoutRequest.objects.filter(user_id=user_id, status=PayoutStatus.REQUESTED)
    return sum_to_cents(requested.aggregate(total=Sum("amount"))["total"])


@dataclass(frozen=True)
class Account:
    balance: Decimal
    pending: Decimal
    unvested: Decimal = Decimal("0.00")  # in the balance, not payable yet (see vesting.py)

    @property
    def vested(self) -> Decimal:
        return self.balance - self.unvested

    @property
    def available(self) -> Decimal:
        """The vested balance less requests still waiting for a decision: what a new request may ask for."""
        return self.vested - self.pending


def account(user_id: int) -> Account:
    return Account(balance(user_id), pending(user_id), unvested(user_id))


def available(user_id: int) -> Decimal:
    return account(user_id).available


def _locked(payout: PayoutRequest) -> PayoutRequest:
    lock_account(payout.user_id)
    return PayoutRequest.objects.select_for_update().get(pk=payout.pk)


def parse_amount(value: object) -> Decimal:
    """A positive amount in whole cents, from a string or number; refuses anything else clearly."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise PayoutError("bad_amount", 'The amount must be a decimal string such as "12.50".')
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise PayoutError("bad_amount", f"{value!r} is not an amount.") from None
    if not amount.is_finite() or amount <= 0:
        raise PayoutError("bad_amount", "The amount must be a positive number.")
    if amount >= LARGEST:  # checked first: quantizing a huge number raises instead of answering
        raise PayoutError("bad_amount", f"The amount must be below {LARGEST:,}.")
    if amount != amount.quantize(CENT):
        raise PayoutError("bad_amount", "The amount must be whole cents (at most two decimals).")
    return amount.quantize(CENT)


def _clean_address(kind: str, address: str) -> str:
    address = address.strip()
    if kind == MethodKind.PAYPAL:
        try:
            validate_email(address)
        except ValidationError:
            raise PayoutError("bad_address", f"{address!r} is not an email address PayPal can pay.") from None
        if address[0] in "=+-@":  # would be read as a formula by spreadsheets opening the batch file
            raise PayoutError("bad_address", "The email address may not start with =, +, - or @.")
        return address
    if kind == MethodKind.VENMO:
        handle = address.removeprefix("@")
        if not VENMO_HANDLE.match(handle):
            raise PayoutError("bad_address", "A Venmo handle is 5 to 30 letters, digits, - or _, e.g. @alice-relay.")
        return handle
    if kind == MethodKind.MANUAL:
        if not address or len(address) > 200:
            raise PayoutError("bad_address", "Describe how to pay you in 1 to 200 characters.")
        return address
    raise PayoutError("bad_method", f"The method must be one of {', '.join(MethodKind.values)}.")


def set_payout_method(user: User, *, kind: str, address: str) -> PayoutMethod:
    """Set (or replace) where the user is paid. Requests already made keep the address they had."""
    address = _clean_address(kind, address)
    with transaction.atomic():
        lock_account(user.pk)
        before = PayoutMethod.objects.filter(user_id=user.pk).first()
        method, _ = PayoutMethod.objects.update_or_create(user_id=user.pk, defaults={"kind": kind, "address": address})
        audit.record(
            "method.set",
            actor=user,
            user_id=user.pk,
            kind=kind,
            address=address,
            previous=str(before) if before else None,
        )
    return method


def request_payout(user: User, amount: object) -> PayoutRequest:
    """Ask to be paid ``amount``: at least PAYOUT_MINIMUM, at most the balance not already requested."""
    amount = parse_amount(amount)
    minimum = settings.PAYOUT_MINIMUM
    if amount < minimum:
        raise PayoutError("below_minimum", f"The smallest payout is {minimum} {settings.CURRENCY}.")
    with transaction.atomic():
        lock_account(user.pk)
        method = PayoutMethod.objects.filter(user_id=user.pk).first()
        if method is None:
            raise PayoutError("no_method", "Set a payout method (PayPal, Venmo or manual) first.", status=409)
        free = available(user.pk)
        if amount > free:
            raise PayoutError(
                "insufficient_balance", f"Only {free} {settings.CURRENCY} is available to request.", status=409
            )
        payout = PayoutRequest.objects.create(
            user_id=user.pk, amount=amount, method=method.kind, address=method.address
        )
        audit.record("payout.requested", actor=user, payout=payout, amount=amount, method=method.kind)
        _tell(payout)
    return payout


def _tell(payout: PayoutRequest) -> None:
    """Push the new state to the friend's open pages and email them (admins too for a new
    request, batched: rewards/notifications.py), all after commit."""
    notifications.payout_changed(payout)
    now = account(payout.user_id)
    live.push(
        PayoutChanged(
            audience=payout.user_id,
            payout_id=payout.pk,
            status=payout.status,
            amount=payout.amount,
            balance=now.balance,
            pending=now.pending,
            available=now.available,
        )
    )


def _refuse(payout: PayoutRequest, doing: str, allowed: str) -> PayoutError:
    return PayoutError(
        "wrong_status", f"Payout {payout.pk} is {payout.status}; only {allowed} payouts can be {doing}.", status=409
    )


def approved_alone(user_id: int, actor_id: int, *, besides: int) -> Decimal:
    """What ``actor_id`` approved alone (no second approver) for ``user_id`` in the last 24 hours,
    still debited (approved or paid), leaving payout ``besides`` out."""
    alone = PayoutRequest.objects.filter(
        user_id=user_id,
        decided_by_id=actor_id,
        first_approved_by__isnull=True,
        status__in=(PayoutStatus.APPROVED, PayoutStatus.PAID),
        decided_at__gte=timezone.now() - SOLO_WINDOW,
    ).exclude(pk=besides)
    return sum_to_cents(alone.aggregate(total=Sum("amount"))["total"])


def needs_second_approver(payout: PayoutRequest, actor: User) -> bool:
    """Whether approving ``payout`` alone would take ``actor`` past what one admin may release to
    one friend in 24 hours (PAYOUT_SECOND_ADMIN_OVER): splitting a payout does not get around it."""
    if payout.first_approved_by_id is not None:
        return False  # this approval is the second
    alone = approved_alone(payout.user_id, actor.pk, besides=payout.pk)
    return alone + payout.amount > settings.PAYOUT_SECOND_ADMIN_OVER


def approve(payout: PayoutRequest, *, actor: User) -> PayoutRequest:
    """Debit the ledger and mark approved, all or nothing; refuses when the balance no longer covers it.

    Four eyes: beyond what one admin may release alone (see needs_second_approver) the first
    approval is only recorded (the request stays "requested", nothing is debited) and a different
    admin's approval completes it; the same admin approving again is refused."""
    with transaction.atomic():
        locked = _locked(payout)
        if locked.user_id == actor.pk:
            raise PayoutError("own_payout", "Nobody approves their own payout: ask another admin.", status=403)
        if locked.status != PayoutStatus.REQUESTED:
            raise _refuse(locked, "approved", "requested")
        if locked.first_approved_by_id == actor.pk:
            raise PayoutError(
                "same_approver",
                f"You already approved payout {locked.pk}: a second, different admin must approve it too.",
                status=403,
            )
        second = locked.first_approved_by_id is not None
        if second and not (actor.is_active and actor.is_staff):
            raise PayoutError("not_an_admin", "Only an admin may give a payout its second approval.", status=403)
        flags = FraudFlag.objects.filter(node__owner_id=locked.user_id, resolved=False).count()
        if flags:
            raise PayoutError(
                "open_fraud_flags",
                f"Payout {locked.pk}: the friend has {flags} open fraud flag(s); resolve them first.",
                status=409,
            )
        funds = balance(locked.user_id) - unvested(locked.user_id)
        if locked.amount > funds:
            raise PayoutError(
                "insufficient_balance",
                f"Payout {locked.pk} asks {locked.amount} but the vested balance is {funds} {settings.CURRENCY}.",
                status=409,
            )
        if needs_second_approver(locked, actor):
            limit = settings.PAYOUT_SECOND_ADMIN_OVER
            locked.first_approved_by, locked.first_approved_at = actor, timezone.now()
            locked.save(update_fields=["first_approved_by", "first_approved_at"])
            audit.record(
                "payout.first_approval",
                actor=actor,
                payout=locked,
                amount=locked.amount,
                limit=limit,
                balance_before=funds,
            )
            return locked
        LedgerEntry.objects.create(
            user_id=locked.user_id,
            kind=EntryKind.PAYOUT,
            amount=-locked.amount,
            payout=locked,
            memo=f"payout {locked.pk} via {locked.method}",
        )
        locked.status, locked.decided_at, locked.decided_by = PayoutStatus.APPROVED, timezone.now(), actor
        locked.save(update_fields=["status", "decided_at", "decided_by"])
        audit.record(
            "payout.approved",
            actor=actor,
            payout=locked,
            amount=locked.amount,
            balance_before=funds,
            first_approved_by=locked.first_approved_by_id,  # None: one admin alone, within the limit
        )
        _tell(locked)
    return locked


def reject(payout: PayoutRequest, *, actor: User, reason: str = "") -> PayoutRequest:
    """Refuse a request; an approved (debited) one not yet batched or paid gets its debit reversed."""
    reason = reason.strip()[:200]
    with transaction.atomic():
        locked = _locked(payout)
        if locked.status not in (PayoutStatus.REQUESTED, PayoutStatus.APPROVED):
            raise _refuse(locked, "rejected", "requested or approved")
        if locked.batch_id is not None:
            # Its PayPal file may already be uploaded: crediting it back could pay it twice.
            raise PayoutError(
                "in_batch",
                f"Payout {locked.pk} is in PayPal batch {locked.batch_id}; if PayPal returned it, mark it paid "
                "with the return's reference and add a correction for the returned amount.",
                status=409,
            )
        if locked.status == PayoutStatus.APPROVED:
            LedgerEntry.objects.create(
                user_id=locked.user_id,
                kind=EntryKind.CORRECTION,
                amount=locked.amount,
                payout=locked,
                memo=f"payout {locked.pk} rejected after approval: {reason}"[:200],
            )
        previous = locked.status
        locked.status, locked.decided_at, locked.decided_by = PayoutStatus.REJECTED, timezone.now(), actor
        locked.reason = reason
        locked.save(update_fields=["status", "decided_at", "decided_by", "reason"])
        _tell(locked)
        audit.record(
            "payout.rejected", actor=actor, payout=locked, amount=locked.amount, previous=previous, reason=reason
        )
    return locked


def mark_paid(payout: PayoutRequest, *, actor: User, reference: str) -> PayoutRequest:
    """Record that the money went out, with the payment system's reference (e.g. a PayPal transaction id)."""
    reference = reference.strip()
    if not reference or len(reference) > 100:
        raise PayoutError("bad_reference", "Give the external payment reference (1 to 100 characters).")
    with transaction.atomic():
        locked = _locked(payout)
        if locked.status != PayoutStatus.APPROVED:
            raise _refuse(locked, "marked paid", "approved")
        locked.status, locked.paid_at, locked.external_reference = PayoutStatus.PAID, timezone.now(), reference
        locked.save(update_fields=["status", "paid_at", "external_reference"])
        audit.record("payout.paid", actor=actor, payout=locked, amount=locked.amount, reference=reference)
        _tell(locked)
    return locked


def assemble_batch(*, actor: User | None = None, payouts: QuerySet[PayoutRequest] | None = None) -> PayoutBatch | None:
    """Gather approved, unbatched PayPal/Venmo payouts (optionally only ``payouts``) into a new batch.

    Rows are locked and skipped when another worker holds them, so two runs never batch a payout twice.
    """
    with transaction.atomic():
        ready = PayoutRequest.objects.filter(status=PayoutStatus.APPROVED, batch__isnull=True, method__in=BATCH_METHODS)
        if payouts is not None:
            ready = ready.filter(pk__in=payouts.values("pk"))
        chosen = list(ready.select_for_update(skip_locked=True).order_by("pk")[:BATCH_LIMIT])
        if not chosen:
            return None
        total = sum((p.amount for p in chosen), Decimal("0.00"))
        batch = PayoutBatch.objects.create(created_by=actor, currency=settings.CURRENCY, total=total, items=len(chosen))
        PayoutRequest.objects.filter(pk__in=[p.pk for p in chosen]).update(batch=batch)
        audit.record(
            "batch.created", actor=actor, batch=batch, items=len(chosen), total=total, payouts=[p.pk for p in chosen]
        )
    return batch


def batch_csv(batch: PayoutBatch) -> str:
    """The batch in PayPal Payouts' bulk-upload format: no header; recipient, amount, currency,
    customer id, note, wallet (and, for Venmo, the social-feed privacy)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for payout in batch.payouts.filter(status=PayoutStatus.APPROVED).order_by("pk"):  # paid ones never again
        note = f"StreamrP2P relay earnings, payout {payout.pk}"
        if payout.method == MethodKind.VENMO:
            writer.writerow(
                [
                    payout.address,
                    f"{payout.amount:.2f}",
                    batch.currency,
                    f"payout-{payout.pk}",
                    note,
                    "VENMO",
                    "PRIVATE",
                ]
            )
        else:
            writer.writerow(
                [payout.address, f"{payout.amount:.2f}", batch.currency, f"payout-{payout.pk}", note, "PAYPAL"]
            )
    return out.getvalue()


def export_batch(batch: PayoutBatch, *, actor: User) -> str:
    """The CSV, with the download logged (who took the payment file, and when)."""
    with transaction.atomic():
        PayoutBatch.objects.filter(pk=batch.pk, downloaded_at__isnull=True).update(downloaded_at=timezone.now())
        audit.record("batch.downloaded", actor=actor, batch=batch)
    return batch_csv(batch)


def mark_batch_paid(batch: PayoutBatch, *, actor: User, reference: str) -> int:
    """Mark every still-approved payout of the batch paid with the batch's reference (PayPal's
    payout batch id; each item is found there by its customer id ``payout-<id>``)."""
    done = 0
    for payout in batch.payouts.filter(status=PayoutStatus.APPROVED).order_by("pk"):
        mark_paid(payout, actor=actor, reference=reference)
        done += 1
    return done
