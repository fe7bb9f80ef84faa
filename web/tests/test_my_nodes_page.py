"""The friend's home page: each node's status, last heartbeat, trust, recent checks and today's earnings."""

from __future__ import annotations

import pytest
from django.utils import timezone

from validation.models import DeliveredSegment, NodeTrust, Outcome, SpotCheck

pytestmark = pytest.mark.django_db


def test_shows_a_clear_empty_state_with_the_way_to_add_a_node(client, friend):
    client.force_login(friend)
    page = client.get("/me").content.decode()
    assert "No nodes yet." in page and 'href="/nodes/add"' in page


def test_lists_my_nodes_with_status_attested_viewers_trust_and_recent_checks(
    client, friend, register, node_client, stream_and_key
):
    stream, _ = stream_and_key
    node, api_key = register("den", user=friend)
    node_client(api_key).beat(viewers=4)  # the node's own claim: shown nowhere as viewers
    for ticket in ("t1", "t2"):  # two people's players reported segments from it just now
        seen = {"url": f"u-{ticket}", "size": 1, "sha256": "0" * 64, "reported_at": timezone.now()}
        DeliveredSegment.objects.create(ticket=ticket, node=node, stream=stream, **seen)
    NodeTrust.objects.create(node=node, score=0.93, checks=3)
    for outcome in (Outcome.STALE, Outcome.PASS):
        SpotCheck.objects.create(node=node, checked_at=timezone.now(), outcome=outcome, latency_ms=3)
    client.force_login(friend)
    page = client.get("/me").content.decode()
    assert f'data-node="{node.pk}"' in page and "den" in page
    assert 'class="online">online<' in page and "0.93" in page
    assert 'data-field="last-check" class="pass">pass<' in page and "stale" in page
    assert 'data-field="watching">2<' in page and "data-stale-after" in page
