"""A stream's reward rate: what its relayers share per live hour, so every change is audited.

streams cannot know about the money audit log (rewards sits above it): the change sends
``reward_rate_changed`` inside its own transaction, and rewards' receiver writes the audit entry
in that transaction too, so a rate never changes without its entry (nor the entry without it).
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import User
from django.db import transaction

from streams.models import Stream
from streams.services.sessions import StreamError
from streams.signals import reward_rate_changed

log = logging.getLogger(__name__)
CENT = Decimal("0.01")
LARGEST_RATE = Decimal(10**10)  # the column holds 12 digits, 2 of them cents


def clean_rate(value: object) -> Decimal:
    """A reward rate: a non-negative amount in whole cents that the column can hold."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise StreamError("invalid_rate", 'The reward rate must be a decimal such as "6.00".')
    try:
        rate = Decimal(str(value).strip())
    except InvalidOperation:
        raise StreamError("invalid_rate", f"{value!r} is not a reward rate.") from None
    if not rate.is_finite() or rate < 0 or rate >= LARGEST_RATE or rate != rate.quantize(CENT):
        raise StreamError("invalid_rate", f"The reward rate is whole cents from 0 to below {LARGEST_RATE:,}.")
    return rate.quantize(CENT)


def set_reward_rate(stream: Stream, rate: object, *, actor: User | None) -> Stream:
    """Change the pool per live hour from the next settled hour on (settled hours keep theirs);
    ``actor`` is who changed it (None: the coordinator itself). A rate set to what it is already
    changes nothing and is not logged."""
    new = clean_rate(rate)
    with transaction.atomic():
        locked = Stream.objects.select_for_update().get(pk=stream.pk)
        old = locked.reward_rate_per_hour
        if old != new:
            locked.reward_rate_per_hour = new
            locked.save(update_fields=["reward_rate_per_hour"])
            reward_rate_changed.send(sender=Stream, stream=locked, old=old, new=new, actor=actor)
            log.info("stream %s: reward rate %s -> %s by %s", locked.slug, old, new, actor.pk if actor else "-")
    stream.reward_rate_per_hour = new
    return locked
