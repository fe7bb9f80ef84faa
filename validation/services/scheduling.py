"""When each node is spot-checked: a deadline per node (``CheckDue``), claimed by whoever checks it.

Coverage is a promise, not a sample: every online relaying node has a deadline at most
``SPOT_CHECK_INTERVAL_SECONDS`` after its last check, and schedulers take the most overdue first,
so as long as the workers keep up no node waits longer than that (``/metrics`` shows when they do
not). Sooner for new, low-trust and failing nodes. The time to the next check is drawn without
memory (exponential, capped at the interval): however long since its last check, a node cannot
know that the next is not a minute away, so there is no safe time to stop relaying.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Min, Q, QuerySet
from django.utils import timezone

from nodes.models import Approval, Node, online_q
from validation.models import CheckDue, NodeTrust, SpotCheck

CLAIM_LEASE = timedelta(minutes=5)  # a claimed check no one finished (crashed worker) is due again after this
RETRY_SKIPPED = timedelta(minutes=1)  # no verdict possible (origin unreadable): try again this soon
CONFIRM_AFTER = timedelta(seconds=60)  # an unanswered check is confirmed no sooner than this...
CONFIRM_SPREAD = 30.0  # ...plus up to this many seconds
FAILED_RECHECK = (60.0, 180.0)  # seconds until a node that failed is checked again
NEW_NODE_CHECKS = 5  # a node with fewer checks than this is checked at the shortest interval
SHORTEST_SHARE = 0.25  # of the interval: new or untrusted nodes
SOONEST = 30.0  # seconds: never sooner than this after a check (its mean is the interval's 63 %)
CLAIM_PAGES = 5  # due rows read at most this many times a claim, when other runs win the races

_rng = random.SystemRandom()  # a node must not be able to predict its next check


def candidates(now: datetime) -> QuerySet[Node]:
    """Nodes a check can judge: online, approved, relaying a live stream."""
    return Node.objects.filter(online_q(now), approval=Approval.APPROVED, assigned_stream__isnull=False)


def claim_due(limit: int, *, now: datetime | None = None) -> list[Node]:
    """Up to ``limit`` due nodes, most overdue first, each claimed for this caller alone."""
    now = now or timezone.now()
    pool = candidates(now)
    new = list(pool.filter(check_due__isnull=True).values_list("pk", flat=True)[:1000])
    if new:
        CheckDue.objects.bulk_create([CheckDue(node_id=pk, due_at=now) for pk in new], ignore_conflicts=True)
    claimed: list[int] = []
    for _ in range(CLAIM_PAGES):
        due = list(
            # By deadline alone (ties in any order): PostgreSQL then walks the deadline index and
            # stops at the page's end, ~0.1 ms; with the node's id as a second key it sorted the
            # whole fleet's join on every claim, ~13 ms at 10,000 nodes (bench/coverage.py).
            pool.filter(check_due__due_at__lte=now)
            .order_by(F("check_due__due_at").asc())
            .values_list("pk", "check_due__due_at")[: limit * 2]
        )
        for pk, due_at in due:
            # Only the caller whose update moved this exact deadline owns the check.
            if CheckDue.objects.filter(node_id=pk, due_at=due_at).update(due_at=now + CLAIM_LEASE) == 1:
                claimed.append(pk)
                if len(claimed) == limit:
                    break
        if len(claimed) == limit or len(due) < limit * 2:
            break  # enough, or every due row was tried: the rest belong to other runs
    nodes = Node.objects.filter(pk__in=claimed).select_related("assigned_stream", "trust")
    order = {pk: index for index, pk in enumerate(claimed)}
    return sorted(nodes, key=lambda node: order[node.pk])


def release(node: Node, *, after: timedelta = RETRY_SKIPPED, now: datetime | None = None) -> None:
    """A claimed node that could not be judged now: due again ``after`` from now."""
    CheckDue.objects.filter(node=node).update(due_at=(now or timezone.now()) + after)


def next_check_after(check: SpotCheck, trust: NodeTrust | None) -> timedelta:
    """How long until the node is checked again, given the verdict just recorded."""
    if check.provisional:  # an unanswered check: confirm (or clear) it a minute from now
        return CONFIRM_AFTER + timedelta(seconds=_rng.uniform(0, CONFIRM_SPREAD))
    if not check.passed:
        return timedelta(seconds=_rng.uniform(*FAILED_RECHECK))
    return timedelta(seconds=draw(longest_wait(trust)))


def longest_wait(trust: NodeTrust | None) -> float:
    """Seconds a node may go unchecked after a pass: the interval, less for new and low-trust nodes."""
    share = SHORTEST_SHARE
    if trust is not None and trust.checks >= NEW_NODE_CHECKS:
        share += (1 - SHORTEST_SHARE) * trust.score  # the more it has passed, the longer it may go
    return settings.SPOT_CHECK_INTERVAL_SECONDS * share


def draw(longest: float) -> float:
    """Exponential with mean ``longest``, capped at it: memoryless until the cap (mean 0.63 x)."""
    return max(SOONEST, min(longest, _rng.expovariate(1 / longest)))


def schedule_next(check: SpotCheck, trust: NodeTrust | None) -> None:
    """Set the node's next deadline after a check (inside the check's transaction)."""
    due_at = check.checked_at + next_check_after(check, trust)
    CheckDue.objects.update_or_create(node_id=check.node_id, defaults={"due_at": due_at})


def overdue(now: datetime | None = None) -> tuple[int, float]:
    """(online nodes past their deadline, seconds the most overdue one has waited): coverage. A
    node back online after a long absence counts from its old deadline until its next check."""
    now = now or timezone.now()
    waiting = candidates(now).filter(Q(check_due__due_at__lt=now) | Q(check_due__isnull=True))
    first = waiting.aggregate(first=Min("check_due__due_at"))["first"]
    return waiting.count(), (now - first).total_seconds() if first is not None else 0.0
