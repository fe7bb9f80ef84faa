"""The admin pages an operator uses to judge verdicts: checks, failing nodes, flags."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from nodes.models import Approval, Node
from rewards.models import AuditEntry
from streams.tests.hook_clients import srs_payload
from testkit.media import free_port
from validation.models import FlagKind, FraudFlag, NodeTrust, Outcome, SpotCheck

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/admin/validation/spotcheck/?outcome=stale",
        "/admin/validation/nodetrust/?failing=yes",
        "/admin/validation/nodetrust/?failing=suspended",
        "/admin/validation/fraudflag/?kind=sybil&resolved__exact=0",
    ],
)
def test_filtered_lists_open(staff, register, url):
    node, _ = register()
    SpotCheck.objects.create(node=node, checked_at=timezone.now(), outcome=Outcome.STALE, latency_ms=40)
    NodeTrust.objects.create(node=node, consecutive_failures=1, suspended_at=timezone.now())
    FraudFlag.objects.create(node=node, kind=FlagKind.SYBIL, detected_at=timezone.now())
    response = staff.get(url)
    assert response.status_code == 200 and node.name in response.content.decode()


def test_reinstate_action_restores_a_suspended_node(staff, register):
    node, _ = register()
    Node.objects.filter(pk=node.pk).update(approval=Approval.SUSPENDED)
    trust = NodeTrust.objects.create(node=node, consecutive_failures=3, suspended_at=timezone.now())
    staff.post("/admin/validation/nodetrust/", {"action": "reinstate", "_selected_action": [trust.pk]})
    node.refresh_from_db()
    trust.refresh_from_db()
    assert node.approval == Approval.APPROVED and trust.consecutive_failures == 0 and trust.suspended_at is None


def test_spot_check_action_on_nodes_runs_a_check_or_says_why_not(
    staff, register, node_client, stream_and_key, post_srs
):
    idle, _ = register("idle")
    ghost, ghost_key = register("ghost", public_url=f"http://127.0.0.1:{free_port()}")
    post_srs(srs_payload("on_publish", key=stream_and_key[1]))
    node_client(ghost_key).beat()
    selected = {"action": "spot_check", "_selected_action": [idle.pk, ghost.pk]}
    response = staff.post("/admin/nodes/node/", selected)
    said = " | ".join(str(m) for m in get_messages(response.wsgi_request))
    assert f"idle (#{idle.pk}): skipped" in said  # it relays nothing live: no verdict
    assert f"ghost (#{ghost.pk}): unreachable" in said
    assert SpotCheck.objects.get().trigger == "admin"


def test_resolving_flags_releases_payouts_and_is_audited_with_who_did_it(staff, admin_user, register, friend):
    node, _ = register()
    flag = FraudFlag.objects.create(node=node, kind=FlagKind.SYBIL, detected_at=timezone.now())
    done = FraudFlag.objects.create(node=node, kind=FlagKind.SYBIL, detected_at=timezone.now(), resolved=True)
    staff.post("/admin/validation/fraudflag/", {"action": "resolve", "_selected_action": [flag.pk, done.pk]})
    flag.refresh_from_db()
    assert flag.resolved
    entry = AuditEntry.objects.get(action="fraud_flag.resolved")  # the flag resolved before is not logged again
    assert entry.actor == admin_user and entry.user == friend
    assert entry.details["flag"] == flag.pk and entry.details["kind"] == FlagKind.SYBIL
