"""What the admin refuses because it is evidence or money: a node's owner (who gets paid), deleting a
node, its minute buckets or its spot-checks, fraud flags and trust. Retention stays the one path
that deletes buckets and checks (rewards/tests/test_retention.py keeps it working)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from nodes.models import Node, NodeMinute
from validation.models import FlagKind, FraudFlag, NodeTrust, Outcome, SpotCheck

pytestmark = pytest.mark.django_db


@pytest.fixture
def node(register):
    node, _ = register("den")
    return node


@pytest.fixture
def admin_client_(client, admin_user):
    client.force_login(admin_user)
    return client


def test_a_nodes_owner_cannot_be_changed_in_the_admin(admin_client_, node, friend, outsider):
    url = f"/admin/nodes/node/{node.pk}/change/"
    page = admin_client_.get(url).content.decode()
    assert 'name="owner"' not in page and 'name="name"' in page  # shown read-only, not a field
    form = {"owner": outsider.pk, "name": "renamed", "public_url": node.public_url, "pinned_stream": ""}
    assert admin_client_.post(url, form).status_code == 302
    node.refresh_from_db()
    assert (node.owner, node.name) == (friend, "renamed")


def test_a_node_cannot_be_deleted_in_the_admin(admin_client_, node):
    assert admin_client_.post(f"/admin/nodes/node/{node.pk}/delete/", {"post": "yes"}).status_code == 403
    page = admin_client_.get("/admin/nodes/node/").content.decode()
    assert "delete_selected" not in page
    assert Node.objects.filter(pk=node.pk).exists()


def test_minute_buckets_cannot_be_changed_or_deleted_in_the_admin(admin_client_, node):
    bucket = NodeMinute.objects.create(node=node, minute=timezone.now().replace(second=0, microsecond=0), heartbeats=6)
    url = "/admin/nodes/nodeminute/"
    assert "delete_selected" not in admin_client_.get(url).content.decode()
    bulk = {"action": "delete_selected", "_selected_action": [bucket.pk], "post": "yes"}
    admin_client_.post(url, bulk)
    assert admin_client_.post(f"{url}{bucket.pk}/delete/", {"post": "yes"}).status_code == 403
    admin_client_.post(f"{url}{bucket.pk}/change/", {"heartbeats": 600})
    assert NodeMinute.objects.get(pk=bucket.pk).heartbeats == 6


def test_spot_checks_cannot_be_changed_or_deleted_in_the_admin(admin_client_, node):
    failed = SpotCheck.objects.create(
        node=node, checked_at=timezone.now() - timedelta(minutes=5), outcome=Outcome.MISMATCH, latency_ms=40
    )
    url = "/admin/validation/spotcheck/"
    assert "delete_selected" not in admin_client_.get(url).content.decode()
    admin_client_.post(url, {"action": "delete_selected", "_selected_action": [failed.pk], "post": "yes"})
    assert admin_client_.post(f"{url}{failed.pk}/delete/", {"post": "yes"}).status_code == 403
    admin_client_.post(f"{url}{failed.pk}/change/", {"outcome": Outcome.PASS})
    assert SpotCheck.objects.get(pk=failed.pk).outcome == Outcome.MISMATCH


def test_fraud_flags_and_trust_cannot_be_deleted_in_the_admin(admin_client_, node):
    flag = FraudFlag.objects.create(node=node, kind=FlagKind.SYBIL, detected_at=timezone.now(), evidence={})
    trust = NodeTrust.objects.create(node=node, score=0.1, checks=3)
    assert admin_client_.post(f"/admin/validation/fraudflag/{flag.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client_.post(f"/admin/validation/nodetrust/{trust.pk}/delete/", {"post": "yes"}).status_code == 403
    assert FraudFlag.objects.filter(pk=flag.pk).exists() and NodeTrust.objects.filter(pk=trust.pk).exists()


def test_an_account_with_nodes_cannot_be_deleted_so_its_evidence_stays(admin_client_, node, friend):
    SpotCheck.objects.create(node=node, checked_at=timezone.now(), outcome=Outcome.MISMATCH, latency_ms=5)
    page = admin_client_.post(f"/admin/auth/user/{friend.pk}/delete/", {"post": "yes"})
    assert page.status_code == 200 and "Cannot delete user" in page.content.decode()  # deactivate instead
    assert Node.objects.filter(pk=node.pk).exists() and SpotCheck.objects.filter(node=node).exists()
