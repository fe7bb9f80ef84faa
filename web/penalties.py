"""The warning / suspension / appeal box of each node on "My nodes" (``nodes/_node_penalty.html``).

- warning: the node's last counting check failed (what failed, in plain words; how many more
  failures in a row suspend it);
- suspended: the evidence of the check that suspended it, its appeal's state and re-check
  evidence, and the appeal form while one is possible;
- appeal: a recent appeal's outcome after the node was reinstated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from nodes.models import Approval, Node
from validation.models import Appeal, AppealOutcome, NodeTrust, Outcome, SpotCheck
from validation.services import appeals, penalties

SHOW_DECIDED_APPEAL = timedelta(hours=24)  # a reinstated node shows its appeal's outcome this long


@dataclass
class Penalty:
    state: str  # "warning", "suspended" or "appeal"
    failures: int
    left: int  # failures in a row still allowed before suspension
    limit: int
    check: SpotCheck | None  # the newest failed counting check: the evidence
    what_failed: str
    appeal: Appeal | None  # the newest appeal
    appeal_words: str  # the re-check's finding in plain words
    by_checks: bool  # suspended by failed checks (appealable), not by an admin
    can_appeal: bool
    appeal_after: datetime | None  # waiting time before the next appeal


def _failed_checks(node_ids: list[int]) -> dict[int, SpotCheck]:
    """Each node's newest failed check that counted (not provisional): one indexed query per
    troubled node (a friend has a few nodes; failed checks are kept a year)."""
    found: dict[int, SpotCheck] = {}
    for node_id in node_ids:
        failed = SpotCheck.objects.filter(node_id=node_id, provisional=False).exclude(outcome=Outcome.PASS)
        check = failed.order_by("-checked_at").first()
        if check is not None:
            found[node_id] = check
    return found


def annotate(nodes: Sequence[Node]) -> None:
    """Set ``node.penalty`` (a ``Penalty``, or None: nothing to show) on each node; a few queries
    for the whole page."""
    ids = [node.pk for node in nodes]
    trusts = {t.node_id: t for t in NodeTrust.objects.filter(node_id__in=ids)}
    troubled = [
        node.pk
        for node in nodes
        if node.approval == Approval.SUSPENDED or (node.pk in trusts and trusts[node.pk].consecutive_failures)
    ]
    checks = _failed_checks(troubled) if troubled else {}
    latest = appeals.latest_for(ids)
    now = timezone.now()
    limit = settings.SPOT_CHECK_FAILURES_TO_SUSPEND
    for node in nodes:
        trust = trusts.get(node.pk)
        failures = trust.consecutive_failures if trust else 0
        appeal = latest.get(node.pk)
        check = checks.get(node.pk)
        by_checks = bool(trust and trust.suspended_at)
        state = ""
        if node.approval == Approval.SUSPENDED:
            state = "suspended"
        elif failures:
            state = "warning"
        elif appeal is not None and appeal.decided_at and now - appeal.decided_at < SHOW_DECIDED_APPEAL:
            state = "appeal"
        if not state:
            node.penalty = None  # type: ignore[attr-defined]
            continue
        pending = appeal is not None and appeal.outcome == AppealOutcome.PENDING
        wait = appeals.next_appeal_at(node.pk, now=now) if state == "suspended" and by_checks else None
        node.penalty = Penalty(  # type: ignore[attr-defined]
            state=state,
            failures=failures,
            left=penalties.failures_left(failures),
            limit=limit,
            check=check,
            what_failed=penalties.plain_words(check) if check else "",
            appeal=appeal,
            appeal_words=penalties.plain_words(appeal.recheck) if appeal and appeal.recheck else "",
            by_checks=by_checks,
            can_appeal=state == "suspended" and by_checks and not pending and wait is None,
            appeal_after=wait,
        )
