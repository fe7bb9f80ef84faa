"""django-q2 job (scheduled hourly by migration): settle the closed hours."""

from __future__ import annotations

from rewards import services


def settle_due_hours() -> int:
    return len(services.settle_due())
