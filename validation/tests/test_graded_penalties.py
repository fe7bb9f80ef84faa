"""Graded penalties: the first failed check that counts warns the owner (on /me and by email), the
configured number in a row suspends the node (email too); a person who turned these emails off
gets none, but still sees the warning on /me. Real checks of a node where nothing listens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db.models import F

from accounts import notifications
from nodes.models import Approval, Node
from streams.tests.hook_clients import srs_payload
from testkit.media import free_port
from validation import services
from validation.models import Outcome, SpotCheck

pytestmark = pytest.mark.django_db


@pytest.fixture
def ghost(register, node_client, stream_and_key, post_srs, settings):
    """A node relaying the live stream 'alice' at a public URL where nothing listens."""
    settings.NODE_ALLOW_PRIVATE_URLS = True
    settings.SPOT_CHECK_FAILURES_TO_SUSPEND = 3
    post_srs(srs_payload("on_publish", key=stream_and_key[1]))
    node, key = register("ghost", public_url=f"http://127.0.0.1:{free_port()}")
    assert node_client(key).beat().json()["assignment"]["stream"] == "alice"
    return node


def unanswered(node: Node) -> SpotCheck:
    """A real check of the node (it does not answer), then two minutes pass: a "no answer" counts
    once a check a minute later confirms it."""
    check = services.spot_check(Node.objects.select_related("assigned_stream").get(pk=node.pk))
    assert check.outcome == Outcome.UNREACHABLE
    SpotCheck.objects.update(checked_at=F("checked_at") - timedelta(minutes=2))
    return check


def penalty_box(client, user, node) -> str:
    client.force_login(user)
    response = client.get(f"/me/nodes/{node.pk}/penalty")
    assert response.status_code == 200
    return " ".join(response.content.decode().split())


def test_the_first_failure_that_counts_warns_the_owner_by_email_and_on_their_page(ghost, friend, client, mail_now):
    with mail_now():
        assert unanswered(ghost).provisional  # not confirmed yet: counts for nothing, tells nobody
    assert mail.outbox == []
    with mail_now():
        assert not unanswered(ghost).provisional
    [email] = mail.outbox
    assert email.to == [friend.email] and email.subject == "[StreamrP2P] Your node ghost failed a spot-check"
    assert "the checker could not load the live stream from your node" in email.body
    assert "2 more failures in a row suspend it." in email.body
    assert "/me/notifications" in email.body  # the footer: where to turn these off
    box = penalty_box(client, friend, ghost)
    assert "Warning:" in box and "2 more failures in a row suspend it" in box
    assert "could not load the live stream" in box


def test_the_configured_number_of_failures_in_a_row_suspends_and_tells_the_owner(ghost, friend, client, mail_now):
    with mail_now():
        unanswered(ghost)  # provisional
        unanswered(ghost)  # 1: warned
        unanswered(ghost)  # 2: no second email, /me shows the count
    assert [e.subject for e in mail.outbox] == ["[StreamrP2P] Your node ghost failed a spot-check"]
    assert "1 more failure in a row suspends it" in penalty_box(client, friend, ghost)
    with mail_now():
        unanswered(ghost)  # 3: suspended
    assert Node.objects.get(pk=ghost.pk).approval == Approval.SUSPENDED
    assert [e.subject for e in mail.outbox][1:] == ["[StreamrP2P] Your node ghost was suspended"]
    assert "failed 3 spot-checks in a row" in mail.outbox[1].body and "appeal" in mail.outbox[1].body
    box = penalty_box(client, friend, ghost)
    assert "Suspended:" in box and "Evidence" in box and "Appeal: check my node again now" in box


def test_the_count_is_a_setting(ghost, settings, mail_now):
    settings.SPOT_CHECK_FAILURES_TO_SUSPEND = 1
    with mail_now():
        unanswered(ghost)
        unanswered(ghost)  # the first that counts suspends at once: no warning first
    assert Node.objects.get(pk=ghost.pk).approval == Approval.SUSPENDED
    assert [e.subject for e in mail.outbox] == ["[StreamrP2P] Your node ghost was suspended"]


def test_an_owner_who_turned_these_emails_off_gets_none_but_still_sees_the_warning(ghost, friend, client, mail_now):
    notifications.update_settings(friend, {notifications.NODE_PENALTIES: False})
    with mail_now():
        for _ in range(4):
            unanswered(ghost)
    assert Node.objects.get(pk=ghost.pk).approval == Approval.SUSPENDED
    assert mail.outbox == []
    assert "Suspended:" in penalty_box(client, friend, ghost)


def test_nobody_but_the_owner_sees_a_nodes_penalty_box(ghost, owner, outsider, client):
    for person in (owner, outsider):
        client.force_login(person)
        assert client.get(f"/me/nodes/{ghost.pk}/penalty").status_code == 404
