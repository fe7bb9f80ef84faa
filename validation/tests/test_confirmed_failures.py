"""A node that does not answer once may be under a rival's short flood: unreachable and timeout
count against it only when a check a minute or more later confirms them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from nodes.models import Node
from streams.tests.hook_clients import srs_payload
from testkit.media import free_port
from validation import services
from validation.models import CheckDue, NodeTrust, Outcome, SpotCheck
from validation.services import scheduling, spotchecks

pytestmark = pytest.mark.django_db


@pytest.fixture
def ghost(register, node_client, stream_and_key, post_srs, settings):
    """A node relaying 'alice' at a URL where nothing listens."""
    settings.NODE_ALLOW_PRIVATE_URLS = True
    post_srs(srs_payload("on_publish", key=stream_and_key[1]))
    node, key = register("ghost", public_url=f"http://127.0.0.1:{free_port()}")
    node_client(key).beat()
    return node


def check(node: Node) -> SpotCheck:
    return services.spot_check(Node.objects.select_related("assigned_stream").get(pk=node.pk))


def later(minutes: float) -> None:
    SpotCheck.objects.update(checked_at=F("checked_at") - timedelta(minutes=minutes))


def test_one_unanswered_check_counts_for_nothing(ghost):
    first = check(ghost)
    assert first.outcome == Outcome.UNREACHABLE and first.provisional
    assert not NodeTrust.objects.filter(node=ghost).exists()
    assert services.failed_windows(timezone.now() - timedelta(hours=3), timezone.now()) == []


def test_a_second_unanswered_check_right_away_confirms_nothing(ghost):
    check(ghost)
    again = check(ghost)  # seconds later: a flood this short must not count
    assert again.provisional and not NodeTrust.objects.filter(node=ghost).exists()


def test_a_check_a_minute_later_confirms_and_the_failure_counts(ghost):
    check(ghost)
    later(1.5)
    confirmed = check(ghost)
    assert not confirmed.provisional
    assert NodeTrust.objects.get(node=ghost).consecutive_failures == 1
    (window,) = services.failed_windows(timezone.now() - timedelta(hours=3), timezone.now())
    assert window[0] == ghost.pk and window[2] == confirmed.checked_at


def test_a_node_that_answers_again_is_never_held_to_the_provisional_verdict(ghost):
    check(ghost)
    later(1.5)
    SpotCheck.objects.create(node=ghost, checked_at=timezone.now(), outcome=Outcome.PASS, latency_ms=5)
    assert spotchecks._unconfirmed(ghost, Outcome.UNREACHABLE, timezone.now() + timedelta(minutes=2))


def test_the_scheduler_confirms_an_unanswered_check_a_minute_later(ghost, register, node_client):
    for name in ("fresh1", "fresh2", "fresh3"):
        node_client(register(name)[1]).beat()
    check(ghost)
    assert {node.name for node in scheduling.claim_due(10)} == {"fresh1", "fresh2", "fresh3"}
    due_at = CheckDue.objects.get(node=ghost).due_at
    assert timedelta(seconds=60) <= due_at - SpotCheck.objects.get(node=ghost).checked_at <= timedelta(seconds=90)
    CheckDue.objects.filter(node=ghost).update(due_at=timezone.now())
    assert [node.pk for node in scheduling.claim_due(10)] == [ghost.pk]  # the others are claimed
