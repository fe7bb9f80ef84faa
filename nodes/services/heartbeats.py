"""Heartbeats, the hot path: 10,000 nodes every 10 s is most of the site's traffic.

Beats are recorded in batches, one transaction each:
1. one ``SELECT … FOR UPDATE`` finds and locks the batch's nodes by API-key digest (it is also
   the key → node lookup);
2. each beat is judged in Python against the locked state (sequence numbers, agent sessions,
   counters credited and clamped);
3. one statement for every changed node and one for every touched minute bucket
   (``heartbeat_writes``): the bucket upsert adds the batch's sums with plain increments.

The web tier groups the beats that arrive while the previous batch is in the database
(``nodes/batching.py``) and answers each only after its batch committed: nothing answered is ever
lost, and the round trips are shared by every beat of the batch. A single beat (the DRF view, the
tests) is a batch of one. Live pushes and assignments of rejoining nodes happen after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core import live, tokens
from nodes import assignment, signals
from nodes.events import NodeBeat
from nodes.models import Approval, Node
from nodes.services.enrollment import API_KEY_PREFIX
from nodes.services.heartbeat_writes import READ, Batch, Bucket, pipelined, relaxed_commit, write
from streams.models import Stream

log = logging.getLogger(__name__)

# A heartbeat gap longer than this is not trusted to explain a large counter increase.
MAX_CREDITED_GAP_SECONDS = 300
COUNTERS = ("bytes_served", "segments_served", "http_requests")
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Heartbeat:
    seq: int
    agent_session: str
    session_started_at: datetime
    bytes_served: int
    segments_served: int
    http_requests: int
    viewers: int
    ffmpeg_running: bool
    newest_segment_age: float | None
    agent_version: str = ""
    stream: str = ""
    public_url: str | None = None


@dataclass(frozen=True)
class HeartbeatResult:
    accepted: bool  # False: a duplicate or old sequence number, nothing was counted
    assignment: Stream | None
    interval: int
    clamped: tuple[str, ...] = ()


def _bounded(name: str, value: int, limit: float, clamped: list[str]) -> int:
    if value < 0:
        clamped.append(f"{name} negative ({value})")
        return 0
    if value > limit:
        clamped.append(f"{name} {value} above {int(limit)}")
        return int(limit)
    return value


def _credit(node: Node, beat: Heartbeat, now: datetime, new_session: bool) -> tuple[dict[str, int], list[str]]:
    """Counter increases to credit since the last accepted beat, and what had to be corrected.

    A new agent session starts from zero. Within a session counters only grow: one that goes
    backwards is credited nothing (and flagged), and increases are clamped to what the uplink
    could carry in the time since the last beat.
    """
    flags: list[str] = []
    gap = (now - node.last_seen_at).total_seconds() if node.last_seen_at and not new_session else None
    seconds = min(max(gap or node.heartbeat_interval, 1.0), MAX_CREDITED_GAP_SECONDS)
    limits = {
        "bytes_served": settings.NODE_MAX_UPLINK_MBPS * 1_000_000 / 8 * seconds,
        "segments_served": settings.NODE_MAX_REQUESTS_PER_SECOND * seconds,
        "http_requests": settings.NODE_MAX_REQUESTS_PER_SECOND * seconds,
    }
    credit = {}
    for name, limit in limits.items():
        value = getattr(beat, name)
        base = 0 if new_session else getattr(node, f"{name}_total")
        if value < base:
            flags.append(f"{name} went backwards ({base} to {value})")
            credit[name] = 0
            continue
        credit[name] = _bounded(name, value - base, limit, flags)
    return credit, flags


def _baseline(node: Node, beat: Heartbeat, name: str, credited: int, new_session: bool) -> int:
    # Totals are the agent's own (a counter that went backwards is the new baseline), but never
    # more than what was credited: one absurd value cannot make later honest beats look like a
    # reset that would be credited again.
    reported: int = max(getattr(beat, name), 0)
    base: int = 0 if new_session else getattr(node, f"{name}_total")
    return min(reported, base + credited) if reported >= base else reported


def _judge(node: Node, beat: Heartbeat, now: datetime, batch: Batch) -> tuple[bool, tuple[str, ...]]:
    """Judge one beat against the node's locked state; an accepted one changes ``node`` in memory
    (a later beat of the same node in the batch sees it) and adds to ``batch``."""
    interval = node.heartbeat_interval
    new_session = beat.agent_session != node.agent_session
    if not new_session and beat.seq <= node.last_seq:
        return False, ()
    if new_session and node.agent_session_started_at and beat.session_started_at <= node.agent_session_started_at:
        # A late beat of a replaced agent session (or a second agent sharing this node's key):
        # crediting it would count its totals again.
        return False, ("agent session replaced",)

    deltas, clamped = _credit(node, beat, now, new_session)
    viewers = _bounded("viewers", beat.viewers, settings.NODE_MAX_VIEWERS, clamped)
    age = beat.newest_segment_age
    if age is not None and age < 0:
        clamped.append(f"newest_segment_age negative ({age})")
        age = 0.0
    healthy = beat.ffmpeg_running and age is not None and age <= 3 * interval
    stream = node.assigned_stream
    stream_id = stream.pk if beat.stream and stream is not None and stream.slug == beat.stream else None
    if node.stale_after is None or node.stale_after <= now:
        batch.rejoined.add(node.pk)

    totals = {name: _baseline(node, beat, name, deltas[name], new_session) for name in COUNTERS}
    # Compared with the locked state already in hand: no query, and a beat of a node that another
    # batch already saw is not "first" (the row lock orders the batches).
    if node.last_seen_at is None:
        batch.probes[node.pk] = "first_heartbeat"
    elif beat.public_url and beat.public_url != node.public_url:
        batch.probes[node.pk] = "url_change"
    node.last_seen_at = now
    node.stale_after = now + settings.NODE_STALE_AFTER_INTERVALS * interval * _SECOND
    node.offline_after = now + settings.NODE_OFFLINE_AFTER_INTERVALS * interval * _SECOND
    node.agent_session = beat.agent_session
    node.agent_session_started_at = beat.session_started_at
    node.agent_version = beat.agent_version
    node.last_seq = beat.seq
    node.bytes_served_total = totals["bytes_served"]
    node.segments_served_total = totals["segments_served"]
    node.http_requests_total = totals["http_requests"]
    node.viewers = viewers
    node.relaying_slug = beat.stream
    node.relay_running = beat.ffmpeg_running
    node.newest_segment_age = age
    if beat.public_url:
        node.public_url = beat.public_url
    if clamped:
        node.anomalies += len(clamped)
        node.last_anomaly = "; ".join(clamped)[:200]
        node.last_anomaly_at = now
        log.warning("node %s heartbeat clamped: %s", node.pk, "; ".join(clamped))
    batch.nodes[node.pk] = node

    bucket = batch.buckets.setdefault((node.pk, now.replace(second=0, microsecond=0)), Bucket())
    bucket.stream_id = stream_id or bucket.stream_id
    bucket.heartbeats += 1
    bucket.healthy += int(healthy)
    bucket.bytes_served += deltas["bytes_served"]
    bucket.segments_served += deltas["segments_served"]
    bucket.http_requests += deltas["http_requests"]
    bucket.max_viewers = max(bucket.max_viewers, viewers)
    bucket.clamped += len(clamped)
    batch.events.append(
        NodeBeat(
            audience=node.owner_id,
            node_id=node.pk,
            name=node.name,
            status="online",
            last_seen_at=now,
            stale_after=node.stale_after,
            offline_after=node.offline_after,
            relaying=beat.stream,
            healthy=healthy,
            viewers=viewers,
        )
    )
    return True, tuple(clamped)


def _digest(api_key: str) -> str | None:
    if not api_key.startswith(API_KEY_PREFIX) or len(api_key) > 100:
        return None
    return tokens.digest(api_key)


def record_heartbeats(
    beats: Sequence[tuple[str, Heartbeat]], *, now: datetime | None = None
) -> list[tuple[Node, HeartbeatResult] | None]:
    """Record beats given with their nodes' API keys, in one transaction; for each, its node and
    result, or None when no node holds the key."""
    digests = [_digest(api_key) for api_key, _ in beats]
    batch = Batch()
    judged: list[tuple[Node, bool, tuple[str, ...]] | None] = []
    relax = not connection.in_atomic_block  # never a caller's transaction (it may hold money)
    with transaction.atomic():
        # Locked in id order: two batches holding some of the same nodes cannot deadlock each
        # other. Only the nodes are locked (of=self), never their stream, which every node shares.
        wanted = {d for d in digests if d is not None}
        locked = (
            Node.objects.select_related("assigned_stream")
            .select_for_update(of=("self",))
            .only(*READ)  # what a beat is judged on: loading every column was a third of its time
            .order_by("pk")
        )
        with pipelined():  # the setting and the lookup in one round trip
            if relax:
                relaxed_commit()
            nodes = {node.api_key_hash: node for node in locked.filter(api_key_hash__in=wanted)} if wanted else {}
        # The time once the locks are held: a batch that waited for another process's batch on the
        # same node must not record a beat before that one (a negative gap, deadlines going back).
        now = now or timezone.now()
        for digest, (_, beat) in zip(digests, beats, strict=True):
            node = nodes.get(digest) if digest is not None else None
            judged.append(None if node is None else (node, *_judge(node, beat, now, batch)))
        write(batch)
    _after_commit(batch)
    return [None if item is None else (item[0], _result(*item, batch)) for item in judged]


def _after_commit(batch: Batch) -> None:
    """The batch is committed: nothing after this may fail it (a retry would find every beat a
    replay and answer 'not accepted'). Pushes are best effort."""
    try:
        live.push_many(batch.events)
    except Exception:
        log.warning("live pushes of %d heartbeats failed", len(batch.events), exc_info=True)
    if batch.probes:  # rare: a node's first beat, or a new URL
        try:
            signals.node_url_seen.send(sender=Node, nodes=list(batch.probes.items()))
        except Exception:  # the periodic re-probe catches these nodes up
            log.warning("queueing reachability probes of %s failed", sorted(batch.probes), exc_info=True)


def record_heartbeat(node: Node, beat: Heartbeat, *, now: datetime | None = None) -> HeartbeatResult:
    """One beat of a node already found (a batch of one: its state is read again under the lock)."""
    now = now or timezone.now()
    batch = Batch()
    with transaction.atomic():
        locked = Node.objects.select_related("assigned_stream").select_for_update(of=("self",)).get(pk=node.pk)
        accepted, clamped = _judge(locked, beat, now, batch)
        write(batch)
    _after_commit(batch)
    return _result(locked, accepted, clamped, batch)


def _result(node: Node, accepted: bool, clamped: tuple[str, ...], batch: Batch) -> HeartbeatResult:
    """What the node is told after commit: its assignment (only an approved node relays)."""
    stream = node.assigned_stream
    if accepted:
        stream = stream if node.approval == Approval.APPROVED else None
        # An online node got its assignment when the stream went live (assignment receivers); only
        # a node (re)joining now may be missing one. Steady-state heartbeats add no query for this.
        if stream is None and node.approval == Approval.APPROVED and node.pk in batch.rejoined:
            try:
                stream = assignment.assign_node(node)
            except Exception:  # after commit: answered without one; the next rebalance assigns it
                log.warning("assigning rejoining node %s failed", node.pk, exc_info=True)
    return HeartbeatResult(accepted, stream, node.heartbeat_interval, clamped)
