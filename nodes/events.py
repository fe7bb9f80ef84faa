"""Live events of nodes: a heartbeat changed what a node's owner sees.

Sent with ``core.live.push`` after commit; ``kind`` is what the page scripts listen for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from core.live import LiveEvent


@dataclass(frozen=True)
class NodeBeat(LiveEvent):
    kind: ClassVar[str] = "node.heartbeat"
    node_id: int
    name: str
    status: str
    last_seen_at: datetime
    stale_after: datetime
    offline_after: datetime
    relaying: str
    healthy: bool
    viewers: int
