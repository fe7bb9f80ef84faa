"""Appeals: the owner of a suspended node asks for another look, and a re-check decides at once.

A suspended node gets no assignment, so its agent stops relaying: a check of it as it is would
always fail. The re-check therefore puts the node on probation: it is approved again (and given
its stream, if it is online), the job waits up to APPEAL_RELAY_WAIT_SECONDS for its heartbeats to
say it relays, then runs a real spot-check (trigger "appeal"). Pass: reinstated (trust failures
reset, as the admin's "Reinstate"). Fail: suspended again, the suspension stands (upheld). No
verdict possible (no live stream, the node is offline): suspended again, "not checked", and that
appeal does not count against the next one's waiting time. A probation that earns is voided like
any other time before a failed check, so appealing to relay unchecked gains nothing.

One pending appeal per node (a database constraint), and one appeal per node per
APPEAL_INTERVAL_MINUTES. The decision is emailed to the owner and pushed to their open pages.
"""

from __future__ import annotations

import functools
import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from accounts import notifications
from core import live
from core.errors import ServiceError
from nodes import services as node_services
from nodes.assignment import choose_stream
from nodes.models import Approval, Node
from validation.events import AppealChanged
from validation.models import Appeal, AppealOutcome, CheckDue, NodeTrust, SpotCheck
from validation.services import penalties, spotchecks

log = logging.getLogger(__name__)

RELAY_POLL_SECONDS = 1.0
# Longer than django-q2's attempts at the job (3 x the 180 s retry), so a live job is never cut off.
ABANDONED_AFTER = timedelta(minutes=15)


class AppealError(ServiceError):
    pass


def appealable(node: Node) -> bool:
    """Suspended by failed checks (a check can undo that); a suspension an admin chose is theirs."""
    suspended_by_checks = NodeTrust.objects.filter(node_id=node.pk, suspended_at__isnull=False).exists()
    return node.approval == Approval.SUSPENDED and suspended_by_checks


def next_appeal_at(node_id: int, *, now: datetime | None = None) -> datetime | None:
    """When the node's owner may appeal again (None: now, as far as timing goes). Appeals that got
    no verdict do not count."""
    last = (
        Appeal.objects.filter(node_id=node_id)
        .exclude(outcome=AppealOutcome.NOT_CHECKED)
        .order_by("-opened_at")
        .values_list("opened_at", flat=True)
        .first()
    )
    if last is None:
        return None
    at = last + timedelta(minutes=settings.APPEAL_INTERVAL_MINUTES)
    return at if at > (now or timezone.now()) else None


def latest_for(node_ids: list[int]) -> dict[int, Appeal]:
    """Each node's newest appeal, with its re-check (one indexed query per node: a friend has a few)."""
    found: dict[int, Appeal] = {}
    for node_id in node_ids:
        appeal = Appeal.objects.filter(node_id=node_id).select_related("recheck").order_by("-opened_at").first()
        if appeal is not None:
            found[node_id] = appeal
    return found


def open_appeal(node_id: int, user: User, message: str = "") -> Appeal:
    """The owner of suspended node ``node_id`` appeals; the re-check is queued after commit. Only
    the owner may (anyone else is told the node does not exist)."""
    node = Node.objects.filter(pk=node_id, owner_id=user.pk).first()
    if node is None:
        raise AppealError("not_found", "No such node.", status=404)
    if not appealable(node):
        raise AppealError(
            "not_appealable",
            f"{node.name} is not suspended by failed checks: there is nothing a re-check could undo.",
            status=409,
        )
    _close_abandoned(node)
    if Appeal.objects.filter(node=node, outcome=AppealOutcome.PENDING).exists():
        raise AppealError("appeal_pending", f"An appeal of {node.name} is already being checked.", status=409)
    wait_until = next_appeal_at(node.pk)
    if wait_until is not None:
        raise AppealError(
            "too_soon",
            f"{node.name} was appealed recently: appeal again after {wait_until:%H:%M} UTC.",
            status=429,
        )
    try:
        with transaction.atomic():
            appeal = Appeal.objects.create(
                node=node, opened_by=user, opened_at=timezone.now(), message=message.strip()[:2000]
            )
            transaction.on_commit(functools.partial(_queue_decision, appeal.pk), robust=True)
            _push(appeal, "A re-check of your node is running…")
    except IntegrityError:  # a concurrent click opened one first (one pending appeal per node)
        raise AppealError("appeal_pending", f"An appeal of {node.name} is already being checked.", status=409) from None
    log.info("appeal %s of node %s opened by %s", appeal.pk, node.pk, user.pk)
    return appeal


def _close_abandoned(node: Node) -> None:
    """A re-check whose job never finished (its worker killed through all django-q2's attempts)
    must not block the node's appeals for ever: after ABANDONED_AFTER it counts as not checked."""
    now = timezone.now()
    Appeal.objects.filter(node=node, outcome=AppealOutcome.PENDING, opened_at__lt=now - ABANDONED_AFTER).update(
        outcome=AppealOutcome.NOT_CHECKED, detail="The re-check did not finish: appeal again.", decided_at=now
    )


def _queue_decision(appeal_id: int) -> None:
    try:
        async_task("validation.tasks.decide_appeal", appeal_id, task_name="appeal")
    except Exception:  # the broker is down: the appeal stays pending until an admin looks
        log.exception("could not queue the re-check of appeal %s", appeal_id)


def decide(appeal_id: int) -> Appeal | None:
    """The django-q2 job: probation, the re-check, the decision. None when the appeal was already
    decided (a retried job)."""
    appeal = Appeal.objects.select_related("node__owner").filter(pk=appeal_id, outcome=AppealOutcome.PENDING).first()
    if appeal is None:
        return None
    node = appeal.node
    stream = choose_stream(node)
    if stream is None:
        return _close(appeal, AppealOutcome.NOT_CHECKED, "No stream is live right now, so nothing could be checked.")
    wait = settings.APPEAL_RELAY_WAIT_SECONDS
    # The scheduled checks leave the node alone during its probation: the appeal's check decides.
    CheckDue.objects.filter(node=node).update(due_at=timezone.now() + timedelta(seconds=wait + 120))
    probation = timezone.now()
    node_services.approve(Node.objects.filter(pk=node.pk))  # assigns it at once if it is online
    decided = False
    try:
        node = _relaying(node.pk, wait, probation)
        if node.assigned_stream is None:
            decided = True
            _suspend_again(node)
            return _close(
                appeal,
                AppealOutcome.NOT_CHECKED,
                "Your node sends no heartbeats (it is offline): start it, then appeal again.",
            )
        try:
            check = spotchecks.spot_check(node, trigger=penalties.APPEAL_TRIGGER)
        except spotchecks.CheckSkipped:
            decided = True
            _suspend_again(node)
            return _close(appeal, AppealOutcome.NOT_CHECKED, "The stream could not be read during the re-check.")
        decided = True
        if check.passed:
            spotchecks.reinstate(Node.objects.filter(pk=node.pk))
            return _close(appeal, AppealOutcome.REINSTATED, "The re-check passed: your node is reinstated.", check)
        _suspend_again(node)
        return _close(appeal, AppealOutcome.UPHELD, f"The re-check failed: {penalties.plain_words(check)}.", check)
    finally:
        if not decided:  # the job failed mid-way: no probation without a verdict (django-q2 retries it)
            _suspend_again(node)


def _relaying(node_id: int, wait: float, since: datetime) -> Node:
    """The node once its heartbeats say it relays its assigned stream with a segment written since
    its probation began, or as it is after ``wait`` seconds (its check then tells what it serves)."""
    deadline = time.monotonic() + wait
    while True:
        node = Node.objects.select_related("assigned_stream").get(pk=node_id)
        stream = node.assigned_stream
        age, seen = node.newest_segment_age, node.last_seen_at
        fresh = age is not None and seen is not None and seen - timedelta(seconds=age) >= since
        if stream is not None and node.relaying_slug == stream.slug and node.relay_running and fresh:
            return node
        if stream is None or time.monotonic() >= deadline:  # unassigned: offline, no point waiting
            return node
        time.sleep(RELAY_POLL_SECONDS)


def _suspend_again(node: Node) -> None:
    node_services.suspend(Node.objects.filter(pk=node.pk), reason="appeal upheld")


def _close(appeal: Appeal, outcome: str, detail: str, check: SpotCheck | None = None) -> Appeal:
    now = timezone.now()
    with transaction.atomic():
        updated = Appeal.objects.filter(pk=appeal.pk, outcome=AppealOutcome.PENDING).update(
            outcome=outcome, detail=detail[:300], recheck=check, decided_at=now
        )
        appeal.outcome, appeal.detail, appeal.recheck, appeal.decided_at = outcome, detail[:300], check, now
        if updated:
            _push(appeal, detail)
            _tell_owner(appeal)
    log.info("appeal %s of node %s: %s", appeal.pk, appeal.node_id, outcome)
    return appeal


def _push(appeal: Appeal, detail: str) -> None:
    live.push(
        AppealChanged(
            audience=appeal.node.owner_id,
            node_id=appeal.node_id,
            appeal_id=appeal.pk,
            outcome=appeal.outcome,
            detail=detail,
        )
    )


def _tell_owner(appeal: Appeal) -> None:
    node = appeal.node
    me = settings.SITE_URL.rstrip("/") + reverse("me")
    subjects = {
        AppealOutcome.REINSTATED: f"Appeal accepted: {node.name} is reinstated",
        AppealOutcome.UPHELD: f"Appeal refused: {node.name} stays suspended",
        AppealOutcome.NOT_CHECKED: f"Appeal of {node.name}: no re-check was possible",
    }
    notifications.notify(
        node.owner,
        notifications.NODE_PENALTIES,
        subjects[AppealOutcome(appeal.outcome)],
        f"Your appeal of the suspension of {node.name}: {appeal.detail}\n\nThe re-check's evidence is on your "
        f"nodes page: {me}",
    )
