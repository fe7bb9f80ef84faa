"""Which URL a viewer plays: a friend's node that is online, verified and least loaded, else the origin.

A node qualifies when it is approved (so not suspended), online (heartbeat deadline not passed),
assigned to this stream and reporting a running relay with fresh segments, and its most recent
spot-check passed. Among those, the fewest viewers wins (ties: the higher trust, then the lower id).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from nodes.models import Approval, Node, online_q
from streams.models import Stream, StreamSession
from validation.models import Outcome, SpotCheck


@dataclass(frozen=True)
class Playback:
    stream: str
    live: bool
    source: str  # "node" or "origin"
    url: str
    reason: str
    node_id: int | None = None
    node_name: str | None = None
    candidates: int = 0


def verified_relays(stream: Stream, now: datetime) -> list[Node]:
    latest = SpotCheck.objects.filter(node=OuterRef("pk")).order_by("-checked_at")
    return list(
        Node.objects.filter(
            online_q(now), approval=Approval.APPROVED, assigned_stream=stream, relaying_slug=stream.slug,
            relay_running=True,
        )
        .annotate(last_outcome=Subquery(latest.values("outcome")[:1]),
                  last_checked=Subquery(latest.values("checked_at")[:1]))
        .filter(last_outcome=Outcome.PASS)
        .select_related("trust")
        .order_by("viewers", "-trust__score", "pk")
    )  # fmt: skip


def choose(stream: Stream, *, exclude: Collection[int] = (), now: datetime | None = None) -> Playback:
    now = now or timezone.now()
    origin = stream.origin_hls_url()
    if not StreamSession.objects.filter(stream=stream, ended_at__isnull=True).exists():
        return Playback(stream.slug, False, "origin", origin, "The stream is offline.")
    relays = [node for node in verified_relays(stream, now) if node.pk not in exclude]
    fresh = [node for node in relays if node.newest_segment_age is not None
             and node.newest_segment_age <= 3 * node.heartbeat_interval]  # fmt: skip
    if not fresh:
        why = "No verified friend node is relaying it right now"
        if exclude:
            why += f" (besides node(s) {', '.join(map(str, sorted(exclude)))}, which failed for this viewer)"
        return Playback(stream.slug, True, "origin", origin, why + ": playing from the origin.")
    node = fresh[0]
    checked = getattr(node, "last_checked", None)
    ago = f"{int((now - checked).total_seconds() // 60)} min ago" if checked else "recently"
    reason = (
        f"Node {node.name} is online, relaying {stream.slug}, passed its last spot-check ({ago}) and has "
        f"{node.viewers} viewer(s), the fewest of {len(fresh)} verified node(s)."
    )
    return Playback(stream.slug, True, "node", node.hls_url(stream.slug), reason, node.pk, node.name, len(fresh))
