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

    class Meta:
        ordering = ["-hour", "stream"]
        constraints = [models.UniqueConstraint(fields=["stream", "hour"], name="one_settlement_per_stream_hour")]

    def __str__(self) -> str:
        return f"{self.stream_id} @ {self.hour:%Y-%m-%d %H:00}"


class AppendOnlyError(Exception):
    pass


class LedgerQuerySet(models.QuerySet["LedgerEntry"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("The ledger is append-only: add a correcting entry instead.")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("The ledger is append-only: add a correcting entry instead.")


class EntryKind(models.TextChoices):
    CREDIT = "credit", "relay credit"
    PAYOUT = "payout", "payout"
    CORRECTION = "correction", "correction"


class LedgerEntry(models.Model):
    """Money owed to a user; the balance is the sum. Never changed or deleted once written."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    settlement = models.ForeignKey(Settlement, null=True, blank=True, on_delete=models.PROTECT, related_name="entries")
    node = models.ForeignKey(Node, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries")
    stream = models.ForeignKey(Stream, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    memo = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = LedgerQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(
                fields=["settlement", "node"], condition=models.Q(kind="credit"), name="one_credit_per_node_settlement"
            ),
        ]
        indexes = [models.Index(fields=["user", "created_at"], name="ledger_user_time_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} to {self.user_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("The ledger is append-only: add a correcting entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("The ledger is append-only: add a correcting entry instead.")
