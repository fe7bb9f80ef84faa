"""Live events of spot-checks: a verdict on one of the user's nodes.

Sent with ``core.live.push`` after commit; ``kind`` is what the page scripts listen for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from core.live import LiveEvent


@dataclass(frozen=True)
class CheckVerdict(LiveEvent):
    kind: ClassVar[str] = "spotcheck.verdict"
    node_id: int
    outcome: str
    passed: bool
    checked_at: datetime
    detail: str
    approval: str
