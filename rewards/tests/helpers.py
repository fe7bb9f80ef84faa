"""Building blocks for rewards tests: relayed minutes as the heartbeat path would have stored them."""

from __future__ import annotations

from datetime import datetime, timedelta

from nodes.models import Node, NodeMinute
from streams.models import Stream


def relayed(node: Node, stream: Stream, hour: datetime, minutes: range, bytes_per_minute: int = 1_000_000) -> None:
    NodeMinute.objects.bulk_create(
        NodeMinute(
            node=node,
            stream=stream,
            minute=hour + timedelta(minutes=m),
            heartbeats=6,
            healthy_heartbeats=6,
            bytes_served=bytes_per_minute,
        )
        for m in minutes
    )
