"""django-q2 jobs (scheduled by migrations): settle closed hours; gather approved payouts into batches;
prune what settlement no longer needs."""

from __future__ import annotations

from rewards import services
from rewards.services import retention


def settle_due_hours() -> int:
    return len(services.settle_due())


def vest_due_credits() -> int:
    return services.vest_due()


def assemble_payout_batches() -> int | None:
    """One PayPal bulk batch of the approved payouts not batched yet; None when there are none."""
    batch = services.assemble_batch()
    return batch.pk if batch is not None else None


def prune_expired() -> dict[str, int]:
    """Hourly: delete minute buckets, checks and reports nothing needs any more (see retention)."""
    return retention.prune_expired()
