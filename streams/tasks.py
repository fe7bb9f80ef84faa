"""django-q2 jobs (scheduled by migration 0004): end sessions whose origin went silent."""

from __future__ import annotations

from streams import services


def close_silent_sessions() -> int:
    return services.close_silent_sessions()
