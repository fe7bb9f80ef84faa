"""A django-q2 job for test_live_without_redis.py: the worker process pushes a spot-check verdict
stamped with the moment it pushes, so the test measures push-to-page, not queueing."""

from __future__ import annotations

from django.utils import timezone

from core import live
from validation.events import CheckVerdict


def push_verdict(user_id: int, n: int) -> None:
    live.push(
        CheckVerdict(
            audience=user_id,
            node_id=7,
            outcome="pass",
            passed=True,
            checked_at=timezone.now(),
            detail=f"from the worker {n}",
            approval="approved",
        )
    )
