"""Building blocks for playback tests: nodes the playback API may route to."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from nodes.models import Node
from validation.models import Outcome, SpotCheck


def relaying(node: Node, stream, *, viewers: int = 0, checked: str | None = Outcome.PASS) -> Node:
    now = timezone.now()
    Node.objects.filter(pk=node.pk).update(
        assigned_stream=stream,
        relaying_slug=stream.slug,
        relay_running=True,
        newest_segment_age=2.0,
        viewers=viewers,
        last_seen_at=now,
        stale_after=now + timedelta(seconds=30),
        offline_after=now + timedelta(seconds=60),
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
