"""Building blocks for playback tests: nodes the playback API may route to."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from nodes.models import Node
from validation.models import DeliveredSegment, Outcome, SpotCheck


def relaying(node: Node, stream, *, viewers: int = 0, checked: str | None = Outcome.PASS) -> Node:
    """Online, relaying ``stream``, passed a check on its playlist URL (unless ``checked`` says
    otherwise), with ``viewers`` people whose players just reported segments from it."""
    now = timezone.now()
    Node.objects.filter(pk=node.pk).update(
        assigned_stream=stream,
        relaying_slug=stream.slug,
        relay_running=True,
        newest_segment_age=2.0,
        last_seen_at=now,
        stale_after=now + timedelta(seconds=30),
        offline_after=now + timedelta(seconds=60),
    )
    for n in range(viewers):
        DeliveredSegment.objects.create(
            ticket=f"{node.pk}-{n}", node=node, stream=stream, url=f"seg-{n}", size=1, sha256="0" * 64, reported_at=now
        )
    if checked:
        node.refresh_from_db()
        SpotCheck.objects.create(
            node=node,
            stream=stream,
            checked_at=now,
            outcome=checked,
            latency_ms=5,
            evidence={"playlist": node.hls_url(stream.slug)},
        )
    return node
