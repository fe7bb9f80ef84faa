"""rewards' reactions to lower apps' events (connected in RewardsConfig.ready)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.dispatch import receiver

from rewards import services
from rewards.services import audit
from streams.models import Stream
from streams.signals import reward_rate_changed
from validation.models import FraudFlag, SpotCheck
from validation.signals import check_failed, flags_resolved


@receiver(check_failed, sender=SpotCheck, dispatch_uid="rewards.claw_back")
def claw_back_after_a_failed_check(sender: type[SpotCheck], check: SpotCheck, **kwargs: Any) -> None:
    services.claw_back(check)


@receiver(reward_rate_changed, sender=Stream, dispatch_uid="rewards.audit_rate_change")
def audit_a_rate_change(
    sender: type[Stream], stream: Stream, old: Decimal, new: Decimal, actor: User | None, **kwargs: Any
) -> None:
    """A stream's rate decides what its relayers earn: who changed it, from what to what. Runs in
    the change's transaction (the signal is sent inside it), so both commit or neither does."""
    audit.record("stream.rate_changed", actor=actor, stream=stream.pk, slug=stream.slug, old=old, new=new)


@receiver(flags_resolved, sender=FraudFlag, dispatch_uid="rewards.audit_resolved_flags")
def audit_resolved_flags(
    sender: type[FraudFlag], flags: list[FraudFlag], actor: User | None, note: str = "", **kwargs: Any
) -> None:
    """An open flag holds its friend's payouts: who released them, for which node and signal. In
    the resolving transaction, as the rate change above."""
    for flag in flags:
        audit.record(
            "fraud_flag.resolved",
            actor=actor,
            user_id=flag.node.owner_id,
            flag=flag.pk,
            node=flag.node_id,
            kind=flag.kind,
            detected_at=flag.detected_at.isoformat(),
            note=note,
        )
