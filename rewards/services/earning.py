"""Why a node earns or does not, in plain words: now (``why_not``) and per past hour (``history``).

"Earning" is settlement's verdict, not a guess beside it: a node earns right now when the open
hour's split so far (``estimate.stream_hours``, i.e. ``settlement.split_hour`` on the data up to
now) counts its minutes. When it does not, the first of these reasons is named, the order a friend
would fix them in: not approved, suspended (with the failed checks), no live stream, no
assignment, unreachable (the newest reachability probe), relay unhealthy, stale heartbeats,
minutes voided by a failed check. A node that earns but has credits still waiting to vest is told
so too (reason ``not_vested``, ``ok`` stays true: its relaying counts; only the money waits).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from nodes.assignment import live_streams
from nodes.models import Approval, Node, NodeStatus
from rewards.services.earning_history import hour_verdicts
from rewards.services.estimate import StreamHour, stream_hours
from rewards.services.ledger import unvested_credits
from rewards.services.settlement import hour_start
from rewards.split import sum_to_cents
from streams.models import Stream
from validation import reachability
from validation.models import Outcome, SpotCheck

REASONS = (
    "not_approved",
    "suspended",
    "no_live_stream",
    "no_assignment",
    "unreachable",
    "relay_unhealthy",
    "stale_heartbeats",
    "voided_by_failed_check",
    "not_vested",
    "earning",
)


@dataclass(frozen=True)
class Earning:
    ok: bool
    why: str
    reason: str  # one of REASONS


@dataclass(frozen=True)
class HourVerdict:
    hour: datetime
    earned: Decimal
    ok: bool
    why: str


def _at(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%H:%M} UTC"


def _checks(checks: Sequence[SpotCheck]) -> str:
    return ", ".join(f"{check.get_outcome_display()} at {_at(check.checked_at)}" for check in checks)


def _evidence(node_ids: list[int], per_node: int = 3) -> dict[int, list[SpotCheck]]:
    """Each suspended node's newest failed checks that counted (not provisional): the evidence.
    One indexed query per node (a friend's suspended nodes are few)."""
    failed = SpotCheck.objects.filter(provisional=False).exclude(outcome=Outcome.PASS).order_by("-checked_at")
    return {node_id: list(failed.filter(node_id=node_id)[:per_node]) for node_id in node_ids}


def _failed_since(node_ids: list[int], since: datetime) -> dict[int, list[SpotCheck]]:
    """Each node's failed checks since ``since`` that void minutes (settlement's ``failed_windows``
    reads the same: confirmed, not passing), newest first."""
    failed = SpotCheck.objects.filter(node_id__in=node_ids, provisional=False, checked_at__gt=since)
    found: dict[int, list[SpotCheck]] = defaultdict(list)
    for check in failed.exclude(outcome=Outcome.PASS).order_by("-checked_at"):
        found[check.node_id].append(check)
    return found


def _relay_trouble(node: Node, slug: str) -> str | None:
    """What is wrong with the relay by the node's newest heartbeat (heartbeats.py's "healthy": the
    relay running and its newest segment at most three intervals old), None when it is fine."""
    if node.last_seen_at is None:
        return None  # never heard from: the stale-heartbeat reason says so
    if not node.relay_running:
        return f"The relay is not running: the agent is not pulling {slug} (see the agent's log for ffmpeg errors)."
    age = node.newest_segment_age
    if age is None or age > 3 * node.heartbeat_interval:
        told = "has no segment yet" if age is None else f"newest segment is {age:.0f} s old"
        return f"The relay of {slug} is stuck: it {told}. Check the agent's log and its connection to the origin."
    if node.relaying_slug != slug:
        doing = f"relays {node.relaying_slug}" if node.relaying_slug else "relays nothing"
        return f"The node {doing} but is assigned {slug}: restart the agent so it follows its assignment."
    return None


def why_not(nodes: Sequence[Node], *, now: datetime | None = None) -> dict[int, Earning]:
    """For each node: does it earn right now, and if not, the first reason (module docstring).
    A handful of queries for any number of nodes (the stream splits come from the cache)."""
    now = now or timezone.now()
    start = hour_start(now)
    ids = [node.pk for node in nodes]
    live = dict(live_streams().values_list("pk", "slug"))
    streams = Stream.objects.in_bulk({n.assigned_stream_id for n in nodes if n.assigned_stream_id} | set(live))
    suspended = _evidence([n.pk for n in nodes if n.approval == Approval.SUSPENDED])
    probes = reachability.latest_for(ids)
    split: dict[int, StreamHour] = {part.stream_id: part for part in stream_hours(start)} if live else {}
    found: dict[int, Earning] = {}
    later: list[Node] = []  # nodes past the state checks: settlement's split decides
    for node in nodes:
        blocked = _blocked(node, now, live, streams, suspended, probes)
        if blocked is not None:
            found[node.pk] = blocked
        else:
            later.append(node)
    if not later:
        return found
    voided = _failed_since([n.pk for n in later], start)
    waiting = dict(
        unvested_credits()
        .filter(node_id__in=[n.pk for n in later])
        .values("node_id")
        .annotate(total=Sum("amount"))
        .values_list("node_id", "total")
    )
    for node in later:
        part = split.get(node.assigned_stream_id or 0)
        slug = streams[node.assigned_stream_id or 0].slug
        if part is None or not part.counts(node.pk):
            found[node.pk] = _not_counted(node, slug, part, voided.get(node.pk, []), streams)
            continue
        so_far = f"about {part.share(node.pk)} {settings.CURRENCY} so far this hour"
        pending = sum_to_cents(waiting.get(node.pk))
        if pending:
            found[node.pk] = Earning(
                True,
                f"Earning: relaying {slug}, {so_far}. {pending} {settings.CURRENCY} credited earlier is not "
                "payable yet: it vests once a later spot-check passes.",
                "not_vested",
            )
        else:
            found[node.pk] = Earning(True, f"Earning: relaying {slug}, {so_far}.", "earning")
    return found


def _blocked(
    node: Node,
    now: datetime,
    live: dict[int, str],
    streams: dict[int, Stream],
    suspended: dict[int, list[SpotCheck]],
    probes: dict[int, reachability.ReachabilityProbe],
) -> Earning | None:
    """The first reason of the node's own state that it cannot earn now (None: none of them)."""
    if node.approval == Approval.PENDING:
        return Earning(False, "Waiting for an admin to approve this node.", "not_approved")
    if node.approval == Approval.SUSPENDED:
        evidence = suspended.get(node.pk)
        told = f" after failed spot-checks: {_checks(evidence)}" if evidence else " by an admin"
        return Earning(False, f"Suspended{told}. A suspended node earns nothing.", "suspended")
    if not live:
        return Earning(
            False, "No stream is live right now: nodes earn while a stream they relay is live.", "no_live_stream"
        )
    if node.pinned_stream_id is not None and node.pinned_stream_id not in live:
        pinned = streams.get(node.pinned_stream_id)
        name = pinned.slug if pinned else "the stream it is pinned to"
        return Earning(False, f"{name} is not live: this node relays only that stream.", "no_live_stream")
    offline = node.status_at(now) != NodeStatus.ONLINE
    if node.assigned_stream_id is None or node.assigned_stream_id not in live:
        told = " Is the agent running? It gets a stream at its next heartbeat." if offline else ""
        return Earning(False, f"No stream assigned to this node yet.{told}", "no_assignment")
    probe = probes.get(node.pk)
    if probe is not None and not probe.ok:
        return Earning(False, f"Viewers cannot reach it: {probe.detail}", "unreachable")
    trouble = _relay_trouble(node, streams[node.assigned_stream_id].slug)
    if trouble is not None:
        return Earning(False, trouble, "relay_unhealthy")
    if offline:
        seen = f"since {_at(node.last_seen_at)}" if node.last_seen_at else "yet"
        return Earning(False, f"No heartbeat {seen}: start the agent (streamr-node run).", "stale_heartbeats")
    return None


def _not_counted(
    node: Node, slug: str, part: StreamHour | None, voided: list[SpotCheck], streams: dict[int, Stream]
) -> Earning:
    """The node looks fine but the split so far counts none of its minutes: why."""
    if voided:
        check = voided[0]
        return Earning(
            False,
            f"Its minutes this hour were voided by a failed spot-check ({_checks([check])}): minutes since "
            "count again once the next check passes.",
            "voided_by_failed_check",
        )
    stream = streams[node.assigned_stream_id or 0]
    if not stream.reward_rate_per_hour:
        return Earning(False, f"{slug} pays nothing (its rate is 0 per hour).", "no_live_stream")
    if part is None or not part.pool_cents:
        return Earning(
            False, f"The origin has not shown {slug} alive this hour yet: minutes count once it does.", "no_live_stream"
        )
    return Earning(
        False,
        f"No verified minute of {slug} yet this hour: minutes count once a healthy heartbeat lands in a minute the "
        "origin showed the stream alive.",
        "relay_unhealthy",
    )


def history(node: Node, hours: int, *, now: datetime | None = None) -> list[HourVerdict]:
    """The node's last ``hours`` hours, newest first (the open hour first, by ``why_not`` and the
    estimate): what each earned and, when nothing, why."""
    now = now or timezone.now()
    start = hour_start(now)
    current = why_not([node], now=now)[node.pk]
    verdicts = [
        HourVerdict(start, _open_share(node, start), current.ok, current.why),
    ]
    first = max(start - timedelta(hours=hours - 1), hour_start(node.created_at))
    for hour, earned, ok, why in hour_verdicts(node, first, start):
        verdicts.append(HourVerdict(hour, earned, ok, why))
    return verdicts[:hours]


def _open_share(node: Node, start: datetime) -> Decimal:
    return sum((part.share(node.pk) for part in stream_hours(start)), Decimal("0.00"))
