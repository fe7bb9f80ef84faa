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


@dataclass(frozen=True)
class NodeReachability(LiveEvent):
    """A reachability probe of one of the user's nodes (validation/reachability.py)."""

    kind: ClassVar[str] = "node.reachability"
    node_id: int
    ok: bool
    verdict: str
    detail: str
    checked_at: datetime


@dataclass(frozen=True)
class AppealChanged(LiveEvent):
    """An appeal of one of the user's nodes was opened or decided (``outcome``: pending,
    reinstated, upheld, not_checked); the page reloads that node's penalty box."""

    kind: ClassVar[str] = "appeal.changed"
    node_id: int
    appeal_id: int
    outcome: str
    detail: str
