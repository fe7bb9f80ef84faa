"""Consecutive failed checks suspend a node; failed checks void the time before them."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone

from nodes import services as node_services
from nodes.models import Approval, Node
from streams.tests.hook_clients import srs_payload
from testkit.media import free_port
from validation import services
from validation.models import NodeTrust, Outcome, SpotCheck
from validation.tasks import run_spot_checks

pytestmark = pytest.mark.django_db


@pytest.fixture
def relaying(register, node_client, stream_and_key, post_srs, settings):
    """A node relaying the live stream 'alice' at a public URL where nothing listens."""
    settings.NODE_ALLOW_PRIVATE_URLS = True
    post_srs(srs_payload("on_publish", key=stream_and_key[1]))
    node, key = register("ghost", public_url=f"http://127.0.0.1:{free_port()}")
    agent = node_client(key)
    assert agent.beat().json()["assignment"]["stream"] == "alice"
    return node, agent


def unanswered_check(node) -> SpotCheck:
    """A check of a node that does not answer, then two minutes pass (a "no answer" counts only
    once a check a minute later confirms it)."""
    check = services.spot_check(Node.objects.select_related("assigned_stream").get(pk=node.pk))
    assert check.outcome == Outcome.UNREACHABLE
    SpotCheck.objects.update(checked_at=F("checked_at") - timedelta(minutes=2))
    return check


def test_three_consecutive_failures_suspend_the_node_and_it_gets_no_assignment(relaying, settings):
    node, agent = relaying
    first = unanswered_check(node)  # provisional: confirmed by the next one
    assert first.provisional and not NodeTrust.objects.filter(node=node).exists()
    for _ in range(settings.SPOT_CHECK_FAILURES_TO_SUSPEND):
        assert not unanswered_check(node).provisional
    node.refresh_from_db()
    trust = NodeTrust.objects.get(node=node)
    assert node.approval == Approval.SUSPENDED and trust.suspended_at is not None
    assert trust.consecutive_failures == 3 and trust.score < 0.5
    assert agent.beat().json()["assignment"] is None


def test_reinstating_restores_the_node(relaying, settings):
    node, agent = relaying
    for _ in range(4):
        unanswered_check(node)
    services.reinstate(Node.objects.filter(pk=node.pk))
    assert NodeTrust.objects.get(node=node).consecutive_failures == 0
    assert agent.beat().json()["assignment"]["stream"] == "alice"


def test_a_failed_check_voids_the_time_since_the_previous_check(relaying):
    node, _ = relaying
    now = timezone.now()
    for minutes_ago, outcome in [(30, Outcome.PASS), (20, Outcome.PASS), (15, Outcome.MISMATCH)]:
        SpotCheck.objects.create(
            node=node, checked_at=now - timedelta(minutes=minutes_ago), outcome=outcome, latency_ms=5
        )
    windows = services.failed_windows(now - timedelta(hours=1), now)
    assert windows == [(node.pk, now - timedelta(minutes=20), now - timedelta(minutes=15))]


def test_a_first_failed_check_voids_everything_since_the_node_registered(relaying):
    node, _ = relaying
    failed_at = timezone.now()
    SpotCheck.objects.create(node=node, checked_at=failed_at, outcome=Outcome.TIMEOUT, latency_ms=5)
    assert services.failed_windows(failed_at - timedelta(hours=1), failed_at) == [(node.pk, node.created_at, failed_at)]


def test_failed_checks_after_the_period_still_void_time_inside_it(relaying):
    node, _ = relaying
    now = timezone.now()
    SpotCheck.objects.create(node=node, checked_at=now - timedelta(hours=3), outcome=Outcome.PASS, latency_ms=5)
    SpotCheck.objects.create(node=node, checked_at=now, outcome=Outcome.STALE, latency_ms=5)
    period = (now - timedelta(hours=2), now - timedelta(hours=1))
    assert services.failed_windows(*period) == [(node.pk, now - timedelta(hours=3), now)]
    assert services.failed_windows(now - timedelta(hours=5), now - timedelta(hours=4)) == []


def test_the_command_prints_one_line_per_check(relaying):
    node, _ = relaying
    out = io.StringIO()
    call_command("spotcheck", "--node", str(node.pk), stdout=out)
    line = out.getvalue().strip()
    assert line.startswith(f"node {node.pk} (ghost) stream alice: unreachable, overlap -,") and line.endswith(" ms")


def test_the_scheduled_run_moves_on_past_failing_nodes(relaying, register, node_client):
    for name in ("second", "third"):
        node_client(register(name, public_url=f"http://127.0.0.1:{free_port()}")[1]).beat()
    assert run_spot_checks() == {"unreachable": 3}
    assert SpotCheck.objects.count() == 3


def test_a_node_approved_from_the_node_admin_without_reinstating_is_suspended_at_its_next_failure(relaying, settings):
    node, _ = relaying

    def fail() -> None:
        unanswered_check(node)

    for _ in range(settings.SPOT_CHECK_FAILURES_TO_SUSPEND + 1):  # the first is provisional
        fail()
    node_services.approve(Node.objects.filter(pk=node.pk))  # the node admin's action, not "reinstate"
    assert Node.objects.get(pk=node.pk).approval == Approval.APPROVED
    fail()  # still K+1 failures in a row: no fresh start without a passed check or a reinstatement
    assert Node.objects.get(pk=node.pk).approval == Approval.SUSPENDED
