"""Building blocks for rewards tests: relayed minutes as the heartbeat path would have stored them,
and deliveries as viewers' reports would have attested them."""

from __future__ import annotations

from datetime import datetime, timedelta

from nodes.models import Node, NodeMinute
from streams.models import OriginMinute, Stream
from validation.models import AttestedMinute


def relayed(node: Node, stream: Stream, hour: datetime, minutes: range, bytes_per_minute: int = 1_000_000) -> None:
    """The node's own heartbeats: healthy minutes and the bytes it claims to have served."""
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


def attested(node: Node, stream: Stream, hour: datetime, minutes: range, bytes_per_minute: int) -> None:
    """What viewers with tickets for this node reported loading from it."""
    AttestedMinute.objects.bulk_create(
        AttestedMinute(node=node, stream=stream, minute=hour + timedelta(minutes=m), bytes=bytes_per_minute, segments=1)
        for m in minutes
    )


def origin_alive(stream: Stream, hour: datetime, minutes: range) -> None:
    """Minutes in which the origin showed the stream alive (its hooks or a sample)."""
    OriginMinute.objects.bulk_create(
        (OriginMinute(stream=stream, minute=hour + timedelta(minutes=m)) for m in minutes), ignore_conflicts=True
    )
