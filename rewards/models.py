from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models

from nodes.models import Node
from streams.models import Stream


class Settlement(models.Model):
    """One stream's closed hour, settled once: the unique constraint makes a second run a no-op."""

    stream = models.ForeignKey(Stream, on_delete=models.PROTECT, related_name="settlements")
    hour = models.DateTimeField(help_text="Start of the settled hour (UTC).")
    live_seconds = models.PositiveIntegerField()
    pool = models.DecimalField(max_digits=14, decimal_places=2)
    credited = models.DecimalField(max_digits=14, decimal_places=2, help_text="Equals the pool when anyone relayed.")
    nodes = models.PositiveIntegerField(default=0)
    settled_at = models.DateTimeField(auto_now_add=True)
    duration_ms = models.PositiveIntegerField(default=0, help_text="Time this settlement took (for /metrics).")

    class Meta:
        ordering = ["-hour", "stream"]
        constraints = [models.UniqueConstraint(fields=["stream", "hour"], name="one_settlement_per_stream_hour")]

    def __str__(self) -> str:
        return f"{self.stream_id} @ {self.hour:%Y-%m-%d %H:00}"


class AppendOnlyError(Exception):
    pass


class AppendOnlyQuerySet(models.QuerySet[Any]):
    """Refuses bulk changes: rows of the ledger and the audit log are written once, never altered."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(f"{self.model._meta.verbose_name_plural} are append-only: add a new entry instead.")

    def delete(self) -> NoReturn:
        raise AppendOnlyError(f"{self.model._meta.verbose_name_plural} are append-only: add a new entry instead.")


class AppendOnlyModel(models.Model):
    """Rows written once and never changed or deleted, one by one or in bulk; ``refusal`` says why."""

    refusal = "These rows are append-only."

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(self.refusal)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(self.refusal)


class EntryKind(models.TextChoices):
    CREDIT = "credit", "relay credit"
    PAYOUT = "payout", "payout"
    CORRECTION = "correction", "correction"
    CLAWBACK = "clawback", "clawback of an unvested credit"


class LedgerEntry(AppendOnlyModel):
    """Money owed to a user; the balance is the sum. Never changed or deleted once written."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    settlement = models.ForeignKey(Settlement, null=True, blank=True, on_delete=models.PROTECT, related_name="entries")
    node = models.ForeignKey(Node, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries")
    stream = models.ForeignKey(Stream, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    payout = models.ForeignKey(
        "PayoutRequest", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    # What a credit pays for (verified minutes and bytes), so leaderboards read the ledger alone.
    minutes = models.PositiveIntegerField(default=0)
    bytes_served = models.PositiveBigIntegerField(default=0)
    memo = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # A clawback names the credit it takes back (once: a credit is clawed back at most once).
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="clawback", editable=False
    )

    refusal = "The ledger is append-only: add a correcting entry instead."

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(
                fields=["settlement", "node"], condition=models.Q(kind="credit"), name="one_credit_per_node_settlement"
            ),
            # A payout is debited once, and reversed (when rejected after approval) at most once.
            models.UniqueConstraint(
                fields=["payout", "kind"],
                condition=models.Q(payout__isnull=False),
                name="one_entry_per_payout_and_kind",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="payout") | models.Q(amount__lt=0, payout__isnull=False),
                name="payout_entries_are_debits_of_a_payout",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="clawback") | models.Q(amount__lt=0, reverses__isnull=False),
                name="clawbacks_take_back_a_credit",
            ),
        ]
        indexes = [models.Index(fields=["user", "created_at"], name="ledger_user_time_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} to {self.user_id}"


class Vesting(AppendOnlyModel):
    """A credit became payable: a later passing spot-check of its node covered its hour, or
    VESTING_HOURS passed without a failure. Written once; a vested credit is never clawed back."""

    credit = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="vesting")
    vested_at = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(max_length=64)

    refusal = "Vestings are append-only."

    def __str__(self) -> str:
        return f"credit {self.credit_id} vested ({self.reason})"


class MethodKind(models.TextChoices):
    PAYPAL = "paypal", "PayPal (email)"
    VENMO = "venmo", "Venmo (handle)"
    MANUAL = "manual", "Manual (note to the admin)"


class PayoutMethod(models.Model):
    """Where a friend wants to be paid; copied onto each request, so later edits never redirect money."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="payout_method")
    kind = models.CharField(max_length=16, choices=MethodKind.choices)
    address = models.CharField(max_length=200, help_text="PayPal email, Venmo handle or a note for a manual payout.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.address}"


class PayoutStatus(models.TextChoices):
    REQUESTED = "requested", "requested"
    APPROVED = "approved", "approved (debited)"
    REJECTED = "rejected", "rejected"
    PAID = "paid", "paid"


class PayoutBatch(models.Model):
    """Approved PayPal/Venmo payouts gathered for one PayPal Payouts bulk upload (a CSV file)."""

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty when the scheduled job assembled it.",
    )
    currency = models.CharField(max_length=3)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    items = models.PositiveIntegerField()
    downloaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "payout batches"

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.items} payouts, {self.total} {self.currency})"


class PayoutRequest(models.Model):
    """A friend's request to be paid; the ledger is debited when an admin approves it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payout_requests")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    method = models.CharField(max_length=16, choices=MethodKind.choices)
    address = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=PayoutStatus.choices, default=PayoutStatus.REQUESTED)
    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=200, blank=True, help_text="Why it was rejected.")
    paid_at = models.DateTimeField(null=True, blank=True)
    external_reference = models.CharField(max_length=100, blank=True, help_text="e.g. the PayPal transaction id.")
    batch = models.ForeignKey(PayoutBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="payouts")
    # Four eyes: above PAYOUT_SECOND_ADMIN_OVER the first admin's approval is recorded here and the
    # request stays "requested" until a different admin (decided_by) approves it too.
    first_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    first_approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payout_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(first_approved_by__isnull=True)
                | models.Q(decided_by__isnull=True)
                | ~models.Q(first_approved_by=models.F("decided_by")),
                name="payout_two_approvers_differ",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="paid") | ~models.Q(external_reference=""),
                name="paid_payouts_have_a_reference",
            ),
        ]

    def __str__(self) -> str:
        return f"payout {self.pk}: {self.amount} to {self.user} ({self.status})"


class ProposalState(models.TextChoices):
    PENDING = "pending", "waiting for a second admin"
    CONFIRMED = "confirmed", "confirmed (in the ledger)"
    REJECTED = "rejected", "rejected"


class CorrectionProposal(models.Model):
    """A correction too large for one admin (CORRECTION_SECOND_ADMIN_OVER): the ledger entry is
    written only when a different admin, who is not its beneficiary either, confirms it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="correction_proposals")
    amount = models.DecimalField(max_digits=14, decimal_places=2, help_text="Negative takes money back.")
    memo = models.CharField(max_length=200)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    state = models.CharField(max_length=16, choices=ProposalState.choices, default=ProposalState.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True, help_text="Why it was rejected.")
    entry = models.OneToOneField(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="proposal", editable=False
    )

    class Meta:
        ordering = ["-proposed_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount=0), name="proposal_amount_not_zero"),
            # The database too holds the four eyes: a confirmed proposal has its entry and a
            # confirmer who neither proposed it nor receives it.
            models.CheckConstraint(
                condition=~models.Q(state="confirmed")
                | (
                    models.Q(entry__isnull=False, decided_by__isnull=False)
                    & ~models.Q(decided_by=models.F("proposed_by"))
                    & ~models.Q(decided_by=models.F("user"))
                ),
                name="proposal_confirmed_by_a_second_admin",
            ),
        ]

    def __str__(self) -> str:
        return f"correction proposal {self.pk}: {self.amount} to {self.user} ({self.state})"


class AuditEntry(AppendOnlyModel):
    """Who changed what in money matters: payout methods, requests, decisions, batches, correction
    proposals, streams' reward rates. Append-only (on PostgreSQL a trigger refuses UPDATE/DELETE)."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty for the coordinator's own jobs.",
    )
    action = models.CharField(max_length=40, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_entries",
        help_text="Whose money it concerns.",
    )
    payout = models.ForeignKey(PayoutRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="audit")
    batch = models.ForeignKey(PayoutBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="audit")
    proposal = models.ForeignKey(
        CorrectionProposal, null=True, blank=True, on_delete=models.PROTECT, related_name="audit"
    )
    details = models.JSONField(default=dict, blank=True)

    refusal = "The audit log is append-only."

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"
