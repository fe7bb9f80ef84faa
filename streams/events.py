"""Live events of streams: a stream went live or offline.

Sent with ``core.live.push`` after commit; ``kind`` is what the page scripts listen for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from core.live import LiveEvent


@dataclass(frozen=True)
class StreamState(LiveEvent):
    kind: ClassVar[str] = "stream.state"
    slug: str
    title: str
    live: bool
    since: datetime | None
