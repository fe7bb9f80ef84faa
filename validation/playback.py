"""Which URL a viewer plays: a friend's node that is online, verified and least loaded, else the origin.

A node qualifies when it is approved (so not suspended), online (heartbeat deadline not passed),
assigned to this stream and reporting a running relay with fresh segments, and its most recent
spot-check of this stream, during this live session, passed on the very playlist URL viewers
will get (a node that changed its public URL since is not verified there). Among those, the
least loaded win: a viewer gets one of the nodes within LOAD_SLACK viewers of the least loaded,
at random, so viewers arriving together do not all pile onto one node. Load is what viewers
attest (tickets that reported from the node lately), never what the node says: a node claiming
no viewers would otherwise draw everyone.
Pages served over HTTPS only get HTTPS nodes (browsers block http media there).
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from nodes.models import Approval, Node, online_q
from streams.models import Stream, StreamSession
from validation.models import Outcome, SpotCheck
from validation.services import delivery


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
    ticket: str | None = None  # for reporting what this viewer loads (None: over the address's limit)


LOAD_SLACK = 2


def verified_relays(stream: Stream, since: datetime, now: datetime) -> list[tuple[Node, int]]:
    """The nodes a viewer may be sent to, with their attested viewers, least loaded first."""
    latest = SpotCheck.objects.filter(node=OuterRef("pk"), stream=stream, checked_at__gte=since).order_by("-checked_at")
    nodes = list(
        Node.objects.filter(
            online_q(now),
            approval=Approval.APPROVED,
            assigned_stream=stream,
            relaying_slug=stream.slug,
            relay_running=True,
        )
        .annotate(
            last_outcome=Subquery(latest.values("outcome")[:1]),
            last_checked=Subquery(latest.values("checked_at")[:1]),
            last_playlist=Subquery(latest.values("evidence__playlist")[:1]),
        )
        .filter(last_outcome=Outcome.PASS)
        .select_related("trust")
        .order_by("-trust__score", "pk")
    )
    nodes = [node for node in nodes if getattr(node, "last_playlist", None) == node.hls_url(stream.slug)]
    load = delivery.watching([node.pk for node in nodes], now=now)
    return sorted(((node, load.get(node.pk, 0)) for node in nodes), key=lambda relay: relay[1])


def choose(
    stream: Stream,
    *,
    exclude: Collection[int] = (),
    secure: bool = False,
    address: str = "",
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> Playback:
    now = now or timezone.now()
    origin = stream.origin_hls_url()
    session = StreamSession.objects.filter(stream=stream, ended_at__isnull=True).first()
    if session is None:
        return Playback(stream.slug, False, "origin", origin, "The stream is offline.")
    fresh = [
        (node, viewers)
        for node, viewers in verified_relays(stream, session.started_at, now)
        if node.pk not in exclude
        and (node.public_url.startswith("https://") or not secure)
        and node.newest_segment_age is not None
        and node.newest_segment_age <= 3 * node.heartbeat_interval
    ]
    if not fresh:
        why = "No verified friend node is relaying it right now"
        if exclude:
            why += f" (besides node(s) {', '.join(map(str, sorted(exclude)))}, which failed for this viewer)"
        ticket = delivery.issue_ticket(None, session, address=address)
        return Playback(stream.slug, True, "origin", origin, why + ": playing from the origin.", ticket=ticket)
    least = fresh[0][1]
    node, viewers = (rng or random).choice([relay for relay in fresh if relay[1] <= least + LOAD_SLACK])
    checked = getattr(node, "last_checked", None)
    ago = f"{int((now - checked).total_seconds() // 60)} min ago" if checked else "recently"
    reason = (
        f"Node {node.name} is online, relaying {stream.slug}, passed its last spot-check ({ago}) and has "
        f"{viewers} viewer(s), among the least loaded of {len(fresh)} verified node(s)."
    )
    ticket = delivery.issue_ticket(node, session, address=address)
    url = node.hls_url(stream.slug)
    return Playback(stream.slug, True, "node", url, reason, node.pk, node.name, len(fresh), ticket)
