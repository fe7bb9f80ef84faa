"""The one place that changes nodes: enrollment, registration, heartbeats, approval.

The heartbeat path is the hot one (10,000 nodes every 10 s): the API authenticates with one
indexed lookup, then ``record_heartbeat`` runs one short transaction — a conditional update of
the node (which also drops duplicate and old sequence numbers) and an upsert of its minute
bucket with F() increments. Nothing slow happens inside it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from core import live, tokens
from core.errors import ServiceError
from nodes import assignment
from nodes.events import NodeBeat
from nodes.models import Approval, EnrollmentToken, Node, NodeMinute
from streams.models import Stream

log = logging.getLogger(__name__)

ENROLLMENT_PREFIX = "et_"
API_KEY_PREFIX = "nk_"
# A heartbeat gap longer than this is not trusted to explain a large counter increase.
MAX_CREDITED_GAP_SECONDS = 300


class NodeError(ServiceError):
    """A refused node operation (enrollment, registration)."""


# --- Enrollment and registration ----------------------------------------------------------------


def create_enrollment_token(user: User, *, ttl: timedelta | None = None) -> tuple[EnrollmentToken, str]:
    ttl = ttl or timedelta(hours=settings.ENROLLMENT_TOKEN_TTL_HOURS)
    token = tokens.new_token(ENROLLMENT_PREFIX)
    record = EnrollmentToken.objects.create(user=user, token_hash=tokens.digest(token), expires_at=timezone.now() + ttl)
    log.info("enrollment token created for %s (expires %s)", user.get_username(), record.expires_at)
    return record, token


def register_node(*, token: str, name: str, public_url: str) -> tuple[Node, str]:
    """Spend an enrollment token on a new node; returns it with its API key (shown once)."""
    now = timezone.now()
    with transaction.atomic():
        record = EnrollmentToken.objects.filter(token_hash=tokens.digest(token)).first()
        if record is None:
            raise NodeError("invalid_token", "Unknown enrollment token.", 403)
        if record.used_at is not None:
            raise NodeError("token_used", "This enrollment token was already used.", 403)
        if record.expires_at <= now:
            raise NodeError("token_expired", "This enrollment token has expired; create a new one.", 403)
        # Claim the token with a conditional update: of two concurrent registrations, one wins.
        # One friend's identities share a machine's uplink: a cap keeps a friend from taking one
        # share per fake node. The owner's row lock makes two concurrent registrations count in turn.
        User.objects.select_for_update().filter(pk=record.user_id).first()
        if Node.objects.filter(owner_id=record.user_id).count() >= settings.NODE_MAX_PER_USER:
            raise NodeError(
                "too_many_nodes",
                f"This account already has {settings.NODE_MAX_PER_USER} node(s), the most one friend may run.",
                409,
            )
        if not EnrollmentToken.objects.filter(pk=record.pk, used_at__isnull=True).update(used_at=now):
            raise NodeError("token_used", "This enrollment token was already used.", 403)
        api_key = tokens.new_token(API_KEY_PREFIX)
        node = Node.objects.create(
            owner_id=record.user_id,
            name=name,
            public_url=public_url,
            api_key_hash=tokens.digest(api_key),
            api_key_hint=tokens.hint(api_key),
            approval=Approval.PENDING if settings.NODE_APPROVAL_REQUIRED else Approval.APPROVED,
            heartbeat_interval=settings.HEARTBEAT_INTERVAL_SECONDS,
        )
        EnrollmentToken.objects.filter(pk=record.pk).update(node=node)
    log.info("node %s registered by user %s (%s)", node.pk, record.user_id, node.approval)
    return node, api_key


def authenticate(api_key: str) -> Node | None:
    """The node holding this API key: one indexed lookup by digest."""
    if not api_key.startswith(API_KEY_PREFIX) or len(api_key) > 100:
        return None
    return Node.objects.select_related("assigned_stream").filter(api_key_hash=tokens.digest(api_key)).first()


# --- Heartbeats ---------------------------------------------------------------------------------


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
    previous = {
        "bytes_served": node.bytes_served_total,
        "segments_served": node.segments_served_total,
        "http_requests": node.http_requests_total,
    }
    credit = {}
    for name, limit in limits.items():
        value = getattr(beat, name)
        base = 0 if new_session else previous[name]
        if value < base:
            flags.append(f"{name} went backwards ({base} to {value})")
            credit[name] = 0
            continue
        credit[name] = _bounded(name, value - base, limit, flags)
    return credit, flags


def _baseline(node: Node, beat: Heartbeat, name: str, credited: int, new_session: bool) -> int:
    reported: int = max(getattr(beat, name), 0)
    base: int = 0 if new_session else getattr(node, f"{name}_total")
    return min(reported, base + credited) if reported >= base else reported


def record_heartbeat(node: Node, beat: Heartbeat, *, now: datetime | None = None) -> HeartbeatResult:
    now = now or timezone.now()
    interval = node.heartbeat_interval
    new_session = beat.agent_session != node.agent_session
    if not new_session and beat.seq <= node.last_seq:
        return HeartbeatResult(False, node.assigned_stream, interval)
    if new_session and node.agent_session_started_at and beat.session_started_at <= node.agent_session_started_at:
        # A late beat of a replaced agent session (or a second agent sharing this node's key):
        # crediting it would count its totals again.
        return HeartbeatResult(False, node.assigned_stream, interval, ("agent session replaced",))

    deltas, clamped = _credit(node, beat, now, new_session)
    viewers = _bounded("viewers", beat.viewers, settings.NODE_MAX_VIEWERS, clamped)
    age = beat.newest_segment_age
    if age is not None and age < 0:
        clamped.append(f"newest_segment_age negative ({age})")
        age = 0.0
    healthy = beat.ffmpeg_running and age is not None and age <= 3 * interval
    stream_id = (
        node.assigned_stream_id
        if beat.stream and node.assigned_stream and (node.assigned_stream.slug == beat.stream)
        else None
    )

    stale_after = now + timedelta(seconds=interval * settings.NODE_STALE_AFTER_INTERVALS)
    offline_after = now + timedelta(seconds=interval * settings.NODE_OFFLINE_AFTER_INTERVALS)
    fields: dict[str, object] = {
        "last_seen_at": now,
        "stale_after": stale_after,
        "offline_after": offline_after,
        "agent_session": beat.agent_session,
        "agent_session_started_at": beat.session_started_at,
        "agent_version": beat.agent_version,
        "last_seq": beat.seq,
        # Totals are the agent's own (a counter that went backwards is the new baseline), but never
        # more than what was credited: one absurd value cannot make later honest beats look like
        # a reset that would be credited again.
        **{f"{name}_total": _baseline(node, beat, name, deltas[name], new_session) for name in deltas},
        "viewers": viewers,
        "relaying_slug": beat.stream,
        "relay_running": beat.ffmpeg_running,
        "newest_segment_age": age,
    }
    if beat.public_url:
        fields["public_url"] = beat.public_url
    if clamped:
        fields.update(anomalies=F("anomalies") + len(clamped), last_anomaly="; ".join(clamped)[:200])
        fields["last_anomaly_at"] = now

    with transaction.atomic():
        # The sequence check is in the WHERE clause: of two racing copies of one beat, one counts.
        guard = Node.objects.filter(pk=node.pk)
        guard = (
            guard.filter(agent_session=node.agent_session)
            if new_session
            else guard.filter(agent_session=beat.agent_session, last_seq__lt=beat.seq)
        )
        if not guard.update(**fields):
            return HeartbeatResult(False, node.assigned_stream, interval)
        _add_to_bucket(node.pk, now, stream_id, deltas, viewers, healthy, len(clamped))

    live.push(
        NodeBeat(
            audience=node.owner_id,
            node_id=node.pk,
            name=node.name,
            status="online",
            last_seen_at=now,
            stale_after=stale_after,
            offline_after=offline_after,
            relaying=beat.stream,
            healthy=healthy,
            viewers=viewers,
        )
    )
    if clamped:
        log.warning("node %s heartbeat clamped: %s", node.pk, "; ".join(clamped))
    stream = node.assigned_stream if node.approval == Approval.APPROVED else None
    # An online node got its assignment when the stream went live (assignment receivers); only a
    # node (re)joining now may be missing one. Steady-state heartbeats add no query for this.
    rejoining = node.stale_after is None or node.stale_after <= now
    if stream is None and node.approval == Approval.APPROVED and rejoining:
        stream = assignment.assign_node(node)
    return HeartbeatResult(True, stream, interval, tuple(clamped))


# One statement, one round trip, whoever comes first in the minute: PostgreSQL and SQLite (3.24+)
# both speak INSERT … ON CONFLICT DO UPDATE. GREATEST is MAX on SQLite.
_BUCKET_UPSERT = """
INSERT INTO {table} (node_id, minute, stream_id, heartbeats, healthy_heartbeats, bytes_served,
                     segments_served, http_requests, max_viewers, clamped)
VALUES (%s, %s, %s, 1, %s, %s, %s, %s, %s, %s)
ON CONFLICT (node_id, minute) DO UPDATE SET
    stream_id = COALESCE(excluded.stream_id, {table}.stream_id),
    heartbeats = {table}.heartbeats + 1,
    healthy_heartbeats = {table}.healthy_heartbeats + excluded.healthy_heartbeats,
    bytes_served = {table}.bytes_served + excluded.bytes_served,
    segments_served = {table}.segments_served + excluded.segments_served,
    http_requests = {table}.http_requests + excluded.http_requests,
    max_viewers = {greatest}({table}.max_viewers, excluded.max_viewers),
    clamped = {table}.clamped + excluded.clamped
"""


def _add_to_bucket(
    node_id: int,
    now: datetime,
    stream_id: int | None,
    deltas: dict[str, int],
    viewers: int,
    healthy: bool,
    clamped: int,
) -> None:
    sql = _BUCKET_UPSERT.format(
        table=connection.ops.quote_name(NodeMinute._meta.db_table),
        greatest="MAX" if connection.vendor == "sqlite" else "GREATEST",
    )
    params: list[int | str | datetime | None] = [
        node_id,
        now.replace(second=0, microsecond=0),
        stream_id,
        int(healthy),
        deltas["bytes_served"],
        deltas["segments_served"],
        deltas["http_requests"],
        viewers,
        clamped,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# --- Approval -----------------------------------------------------------------------------------


def approve(nodes: QuerySet[Node]) -> int:
    """Approve (or reinstate) nodes; those online get an assignment at once if a stream is live."""
    pending = list(nodes.exclude(approval=Approval.APPROVED).values_list("pk", flat=True))
    count = Node.objects.filter(pk__in=pending).update(approval=Approval.APPROVED)
    for node in Node.objects.filter(pk__in=pending, stale_after__gt=timezone.now()):
        assignment.assign_node(node)
    log.info("%d node(s) approved", count)
    return count


def pin(node: Node, stream: Stream | None) -> None:
    """Relay only ``stream`` (or any, with None); a current assignment that no longer fits goes."""
    with transaction.atomic():
        Node.objects.filter(pk=node.pk).update(pinned_stream=stream)
        if stream is not None:
            Node.objects.filter(pk=node.pk).exclude(assigned_stream=stream).update(
                assigned_stream=None, assigned_at=None
            )
    node.refresh_from_db()
    if node.assigned_stream_id is None:
        assignment.assign_node(node)


def set_endpoint(node: Node, address: str) -> None:
    """Record the address the node's public host resolves to (the spot-checker resolves it)."""
    Node.objects.filter(pk=node.pk).update(endpoint=address)
    node.endpoint = address


def suspend(nodes: QuerySet[Node], *, reason: str = "") -> int:
    """Suspended nodes lose their assignment at once and get none until reinstated."""
    count = nodes.exclude(approval=Approval.SUSPENDED).update(
        approval=Approval.SUSPENDED, assigned_stream=None, assigned_at=None
    )
    log.info("%d node(s) suspended%s", count, f": {reason}" if reason else "")
    return count
