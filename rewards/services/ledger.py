"""What every money service shares: the account lock, and which credits are not payable yet."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import QuerySet, Sum

from rewards.models import EntryKind, LedgerEntry
from rewards.split import sum_to_cents


def lock_account(user_id: int) -> None:
    """Serialise every change of one user's payable money: payouts, vesting, clawbacks (a no-op
    lock on SQLite, whose IMMEDIATE transactions already serialise writers)."""
    # NO KEY: settlement's inserts that reference the user (a key-share lock) need not wait for it.
    list(get_user_model().objects.select_for_update(no_key=True).filter(pk=user_id).values_list("pk"))


def unvested_credits(user_id: int | None = None) -> QuerySet[LedgerEntry]:
    """Credits neither vested nor clawed back (see vesting.py)."""
    credits = LedgerEntry.objects.filter(kind=EntryKind.CREDIT, vesting__isnull=True, clawback__isnull=True)
    return credits if user_id is None else credits.filter(user_id=user_id)


def unvested(user_id: int) -> Decimal:
    """Credited but not payable yet: the hours they pay for are not verified yet."""
    return sum_to_cents(unvested_credits(user_id).aggregate(total=Sum("amount"))["total"])
