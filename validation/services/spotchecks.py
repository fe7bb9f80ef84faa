"""The one place that changes validation state: spot-checks, origin history, trust, flags.

Network I/O (fetching the node's and the origin's HLS) happens before any transaction; only
the verdict and its consequences are written, in one short transaction.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import defaultdict
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from core import live
from nodes import services as node_services
from nodes.models import Approval, Node
from streams import services as stream_services
from streams.models import Stream
from validation import checks
from validation.events import CheckVerdict
from validation.models import DeliveredSegment, NodeTrust, OriginFrame, Outcome, SpotCheck
from validation.services import delivery, penalties, scheduling
from validation.signals import check_failed
from validation.windows import OriginWindows, Window

log = logging.getLogger(__name__)

ORIGIN_SAMPLE_SEGMENTS = 100  # a sample records the origin's whole playlist window
UNANSWERED = {Outcome.UNREACHABLE, Outcome.TIMEOUT}
CONFIRM_AFTER = scheduling.CONFIRM_AFTER  # a flood must outlast this to count against a node...
CONFIRM_WITHIN = timedelta(minutes=10)  # ...and the confirming check comes within this
AUDIT_WINDOW = timedelta(minutes=2)  # segments a relay still lists (10 x 2-6 s windows)
TRUST_WEIGHT = 0.2  # each check moves the score this far towards 1 (pass) or 0 (fail)


class CheckSkipped(Exception):
    """No verdict possible (the node relays nothing live, or the origin cannot be read)."""


@dataclass(frozen=True)
class Judgement:
    outcome: str
    overlap: float | None
    live_matches: int
    stale_matches: int


def judge(node_prints: list[bytes], live: AbstractSet[bytes], history: AbstractSet[bytes]) -> Judgement:
    """pass: enough frames in the live window; stale: enough only with older windows; else mismatch."""
    threshold = settings.SPOT_CHECK_MIN_OVERLAP
    total = len(node_prints)
    live_matches = sum(1 for p in node_prints if p in live)
    stale_matches = sum(1 for p in node_prints if p not in live and p in history)
    overlap = live_matches / total if total else 0.0
    if overlap >= threshold:
        return Judgement(Outcome.PASS, overlap, live_matches, stale_matches)
    if total and (live_matches + stale_matches) / total >= threshold:
        return Judgement(Outcome.STALE, overlap, live_matches, stale_matches)
    return Judgement(Outcome.MISMATCH, overlap, live_matches, stale_matches)


def record_origin_frames(stream: Stream, prints: list[bytes], *, now: datetime | None = None) -> bool:
    """Add the origin's frames to the stream's rolling history and drop what is too old. Frames
    never seen before show the origin is alive (a dead origin's last playlist can stay readable):
    that minute counts as live. True when there were such frames."""
    now = now or timezone.now()
    # Sorted: concurrent runs (other workers) insert overlapping prints, and PostgreSQL deadlocks
    # two inserts that take the same unique keys in different orders.
    unique = sorted(set(prints))
    known = OriginFrame.objects.filter(stream=stream, fingerprint__in=unique).count() if unique else 0
    OriginFrame.objects.bulk_create(
        [OriginFrame(stream=stream, fingerprint=p, seen_at=now) for p in unique],
        ignore_conflicts=True,
        batch_size=1000,
    )
    keep = timedelta(seconds=settings.ORIGIN_HISTORY_SECONDS)
    OriginFrame.objects.filter(stream=stream, seen_at__lt=now - keep).delete()
    fresh = known < len(unique)
    if fresh:
        stream_services.record_origin_alive(stream, now=now)
    return fresh


def record_window(stream: Stream, window: Window) -> None:
    """Add a shared origin read to the stream's history, once however many checks share it (only
    the thread that writes to the database calls this)."""
    if not window.recorded:
        record_origin_frames(stream, window.prints)
        window.recorded = True


def sample_origin(stream: Stream, origins: OriginWindows | None = None) -> int:
    """Read the origin's live window into the history now: the frames read. With ``origins``, a
    read shared with a run's checks (the sampling run); alone, the whole playlist window (the demo,
    ``tasks.sample_origins``, tests)."""
    origins = origins or OriginWindows(functools.partial(checks.origin_window, newest=ORIGIN_SAMPLE_SEGMENTS))
    window = origins.read(stream.origin_hls_url_internal(), not_before=time.monotonic())
    record_window(stream, window)
    return len(window.prints)


@dataclass
class Plan:
    """What a check of one node needs from the database, read before any network I/O."""

    node: Node
    stream: Stream
    audit: dict[str, dict[str, int]]
    trigger: str = "schedule"


@dataclass
class Findings:
    """What the network said (no database): the node's side, and the origin's window after it."""

    inspection: checks.Inspection
    endpoint: str
    window: Window | None = None
    origin_error: str = ""
    identity: int | None = None


def plan_check(node: Node, *, trigger: str = "schedule") -> Plan:
    stream = node.assigned_stream
    if stream is None:
        raise CheckSkipped(f"node {node.pk} relays no live stream")
    return Plan(node, stream, viewer_reports(node, stream), trigger)


def inspect(plan: Plan, origins: OriginWindows) -> Findings:
    """The check's network part: safe to run in many threads at once (it never touches the database)."""
    page_url = f"{settings.SITE_URL.rstrip('/')}/watch/{plan.stream.slug}"
    found = checks.inspect_node(plan.node.hls_url(plan.stream.slug), page_url=page_url, audit=plan.audit)
    findings = Findings(found, checks.address_of(plan.node.public_url))
    if found.outcome:
        return findings
    try:
        findings.window = origins.read(plan.stream.origin_hls_url_internal(), not_before=found.finished)
    except checks.OriginUnavailable as exc:
        findings.origin_error = str(exc)
        return findings
    if judge(found.node_prints, findings.window.live, frozenset()).outcome == Outcome.PASS:
        findings.identity = checks.node_identity(plan.node.public_url)
    return findings


def conclude(plan: Plan, findings: Findings) -> SpotCheck:
    """The check's database part: the verdict and its consequences, in one short transaction."""
    node, stream, found = plan.node, plan.stream, findings.inspection
    if findings.endpoint and findings.endpoint != node.endpoint:
        node_services.set_endpoint(node, findings.endpoint)
    taken = delivery.correct_sizes(node, found.fetched)
    if taken:
        found.evidence["oversized_reports_bytes"] = taken
    if found.outcome:
        return _record(node, stream, found, Judgement(found.outcome, None, 0, 0), plan.trigger)
    if findings.window is None:
        raise CheckSkipped(f"origin unavailable: {findings.origin_error}")
    window = findings.window
    record_window(stream, window)
    history = set(
        bytes(p)
        for p in OriginFrame.objects.filter(stream=stream, fingerprint__in=found.node_prints).values_list(
            "fingerprint", flat=True
        )
    )
    judgement = judge(found.node_prints, window.live, history)
    found.evidence.update(origin_segments=len(window.segments), origin_frames=len(window.prints))
    if judgement.outcome == Outcome.PASS and findings.identity != node.pk:
        # The right frames, but from a relay that says it is another node: a URL borrowed
        # from an honest friend earns that friend's node nothing and this one nothing either.
        found.evidence["reason"] = "the relay at this URL reports another node id on /healthz"
        judgement = Judgement(Outcome.MISMATCH, judgement.overlap, judgement.live_matches, 0)
    return _record(node, stream, found, judgement, plan.trigger)


def spot_check(node: Node, *, trigger: str = "schedule") -> SpotCheck:
    """Check one node now (admin, command, tests); the schedule runs many at once (validation.runner)."""
    plan = plan_check(node, trigger=trigger)
    try:
        return conclude(plan, inspect(plan, OriginWindows()))
    except CheckSkipped:
        scheduling.release(node)
        raise


def viewer_reports(node: Node, stream: Stream, *, now: datetime | None = None) -> dict[str, dict[str, int]]:
    """The segments viewers reported loading from the node lately, oldest report first:
    URL -> {SHA-256: tickets}."""
    since = (now or timezone.now()) - AUDIT_WINDOW
    rows = (
        DeliveredSegment.objects.filter(node=node, stream=stream, reported_at__gte=since)
        .values("url", "sha256")
        .annotate(tickets=Count("ticket", distinct=True), last=Max("reported_at"))
        .order_by("last")  # the most recently reported last
    )
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for row in rows:
        found[row["url"]][row["sha256"]] = row["tickets"]
    return dict(found)


def _unconfirmed(node: Node, outcome: str, now: datetime) -> bool:
    """An unreachable/timeout verdict stays provisional unless it confirms one the node got at
    least CONFIRM_AFTER earlier (and within CONFIRM_WITHIN), or continues a confirmed one."""
    if outcome not in UNANSWERED:
        return False
    latest = SpotCheck.objects.filter(node=node).order_by("-checked_at").first()
    if latest is None or latest.outcome not in UNANSWERED:
        return True
    if not latest.provisional:
        return False  # the node still does not answer: the failure streak goes on
    return not (now - CONFIRM_WITHIN <= latest.checked_at <= now - CONFIRM_AFTER)


def _record(node: Node, stream: Stream, found: checks.Inspection, judgement: Judgement, trigger: str) -> SpotCheck:
    now = timezone.now()
    passed = judgement.outcome == Outcome.PASS
    provisional = _unconfirmed(node, judgement.outcome, now)
    with transaction.atomic():
        check = SpotCheck.objects.create(
            provisional=provisional,
            node=node,
            stream=stream,
            checked_at=now,
            outcome=judgement.outcome,
            overlap=judgement.overlap,
            latency_ms=found.latency_ms,
            node_frames=len(found.node_prints),
            live_matches=judgement.live_matches,
            stale_matches=judgement.stale_matches,
            trigger=trigger,
            evidence=found.evidence,
        )
        if provisional:  # recorded and shown, but no trust, suspension or clawback until confirmed
            scheduling.schedule_next(check, None)
            _push_verdict(node, check, passed=False, suspended=False)
            return check
        trust, _ = NodeTrust.objects.select_for_update().get_or_create(node=node)
        trust.score = trust.score * (1 - TRUST_WEIGHT) + (TRUST_WEIGHT if passed else 0.0)
        trust.checks += 1
        trust.consecutive_failures = 0 if passed else trust.consecutive_failures + 1
        trust.last_checked_at = now
        if passed:
            trust.suspended_at = None
        suspend = trust.consecutive_failures >= settings.SPOT_CHECK_FAILURES_TO_SUSPEND
        # However the node was reinstated (this app's action or the node admin's), K more
        # failures suspend it again.
        suspended_now = suspend and node.approval != Approval.SUSPENDED
        if suspended_now:
            trust.suspended_at = now
            node_services.suspend(
                Node.objects.filter(pk=node.pk), reason=f"{trust.consecutive_failures} failed spot-checks"
            )
        trust.save()
        scheduling.schedule_next(check, trust)
        if not passed:
            transaction.on_commit(lambda: check_failed.send(sender=SpotCheck, check=check), robust=True)
            # Graded: the first failure warns the owner, the K-th suspends (emails after commit).
            penalties.after_failure(node, check, trust.consecutive_failures, suspended_now=suspended_now)
        _push_verdict(node, check, passed=passed, suspended=suspend)
    log.info("spot-check node %s on %s: %s (%d ms)", node.pk, stream.slug, check.outcome, check.latency_ms)
    return check


def _push_verdict(node: Node, check: SpotCheck, *, passed: bool, suspended: bool) -> None:
    detail = f"{check.live_matches} of {check.node_frames} frames in the live window"
    if check.provisional:
        detail = "no answer: counts only if a check a minute from now confirms it"
    elif check.outcome == Outcome.NOT_PUBLIC:
        detail = "its public URL leads to a private or local address: the checker does not connect there"
    live.push(
        CheckVerdict(
            audience=node.owner_id,
            node_id=node.pk,
            outcome=check.outcome,
            passed=passed,
            checked_at=check.checked_at,
            detail=detail,
            approval=Approval.SUSPENDED if suspended else node.approval,
        )
    )


def reinstate(nodes: QuerySet[Node]) -> int:
    """Admin: give suspended nodes another chance (trust failures reset, approval restored)."""
    NodeTrust.objects.filter(node__in=nodes).update(consecutive_failures=0, suspended_at=None)
    return node_services.approve(nodes)


def failed_windows(start: datetime, end: datetime) -> list[tuple[int, datetime, datetime]]:
    """(node id, from, to) windows overlapping [start, end] that earn nothing: a failed check
    voids all the time since the node's previous check (since it registered, for a first check).
    Checks are samples, so a cheat is only known to have cheated since the last proof it did not.
    Settlement reads this."""
    failed = SpotCheck.objects.filter(~Q(outcome=Outcome.PASS), checked_at__gt=start, provisional=False)
    failed = failed.select_related("node")
    windows = []
    for check in failed.order_by("node_id", "checked_at"):
        previous = (
            SpotCheck.objects.filter(node_id=check.node_id, checked_at__lt=check.checked_at, provisional=False)
            .order_by("-checked_at")
            .values_list("checked_at", flat=True)
            .first()
        )
        since = previous or check.node.created_at
        if since < end:
            windows.append((check.node_id, since, check.checked_at))
    return windows
