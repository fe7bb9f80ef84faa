"""Resolving fraud flags: an open flag holds its friend's payouts, so resolving one releases money
and is audited. validation cannot write the money audit log (rewards sits above it): it sends
``flags_resolved`` inside the change's transaction and rewards' receiver writes the entries there,
so flags never resolve without their entries (nor the entries without the change)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import transaction

from validation.models import FraudFlag
from validation.signals import flags_resolved

log = logging.getLogger(__name__)


def resolve_flags(flag_ids: Iterable[int], *, actor: User | None, note: str = "") -> list[FraudFlag]:
    """Resolve the open flags among ``flag_ids``; those already resolved are left alone and not
    logged again. Returns the flags this call resolved."""
    with transaction.atomic():
        flags = list(
            FraudFlag.objects.select_for_update(of=("self",))
            .select_related("node")
            .filter(pk__in=list(flag_ids), resolved=False)
            .order_by("pk")
        )
        if not flags:
            return []
        FraudFlag.objects.filter(pk__in=[flag.pk for flag in flags]).update(resolved=True)
        for flag in flags:
            flag.resolved = True
        flags_resolved.send(sender=FraudFlag, flags=flags, actor=actor, note=note)
    log.info("%d fraud flag(s) resolved by %s", len(flags), actor.pk if actor else "-")
    return flags
