"""The money audit trail: one append-only row per state change, naming who made it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User

from rewards.models import AuditEntry, CorrectionProposal, PayoutBatch, PayoutRequest


def record(
    action: str,
    *,
    actor: User | None,
    user_id: int | None = None,
    payout: PayoutRequest | None = None,
    batch: PayoutBatch | None = None,
    proposal: CorrectionProposal | None = None,
    **details: Any,
) -> AuditEntry:
    """Write one entry inside the caller's transaction, so the log and the change commit together."""
    return AuditEntry.objects.create(
        action=action,
        actor_id=actor.pk if actor is not None else None,
        user_id=user_id if user_id is not None else (payout.user_id if payout is not None else None),
        payout=payout,
        batch=batch,
        proposal=proposal,
        details={key: str(value) if isinstance(value, Decimal) else value for key, value in details.items()},
    )
