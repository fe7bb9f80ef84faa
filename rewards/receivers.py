"""rewards' reactions to lower apps' events (connected in RewardsConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from rewards import services
from validation.models import SpotCheck
from validation.signals import check_failed


@receiver(check_failed, sender=SpotCheck, dispatch_uid="rewards.claw_back")
def claw_back_after_a_failed_check(sender: type[SpotCheck], check: SpotCheck, **kwargs: Any) -> None:
    services.claw_back(check)
