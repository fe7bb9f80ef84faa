"""A node offline over NODE_OFFLINE_NOTIFY_MINUTES: its owner gets one email per outage (the
scheduled job claims each node once), none again until the node came back and went away again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db.models import F
from django_q.models import Schedule

from accounts import notifications
from nodes.models import Node
from nodes.tasks import notify_offline_nodes

pytestmark = pytest.mark.django_db


def goes_quiet(node: Node, minutes: float) -> None:
    """Its heartbeats stopped ``minutes`` ago: move its deadlines back as time would."""
    Node.objects.filter(pk=node.pk).update(
        last_seen_at=F("last_seen_at") - timedelta(minutes=minutes),
        stale_after=F("stale_after") - timedelta(minutes=minutes),
        offline_after=F("offline_after") - timedelta(minutes=minutes),
    )


@pytest.fixture
def den(register, node_client):
    node, key = register("den")
    agent = node_client(key)
    agent.beat()
    return Node.objects.get(pk=node.pk), agent


def test_the_owner_is_told_once_per_outage_and_again_only_after_the_node_came_back(den, friend, mail_now):
    node, agent = den
    goes_quiet(node, 5)
    with mail_now():
        assert notify_offline_nodes() == 0  # offline, but not for 10 minutes yet
    goes_quiet(node, 10)
    with mail_now():
        assert notify_offline_nodes() == 1
        assert notify_offline_nodes() == 0  # the next minute's run: already told
    [email] = mail.outbox
    assert email.to == [friend.email] and email.subject == "[StreamrP2P] Your node den is offline"
    assert "has sent no heartbeat since" in email.body and "/me/notifications" in email.body
    goes_quiet(node, 60)
    with mail_now():
        assert notify_offline_nodes() == 0  # still the same outage
    agent.beat()  # back
    with mail_now():
        assert notify_offline_nodes() == 0
    assert Node.objects.get(pk=node.pk).offline_notified_at is None  # cleared: the next outage is news
    goes_quiet(node, 15)
    with mail_now():
        assert notify_offline_nodes() == 1
    assert len(mail.outbox) == 2


def test_an_owner_who_turned_offline_emails_off_gets_none(den, friend, mail_now):
    node, _ = den
    notifications.update_settings(friend, {notifications.NODE_OFFLINE: False})
    goes_quiet(node, 15)
    with mail_now():
        assert notify_offline_nodes() == 1  # the outage is marked told all the same
    assert mail.outbox == []


def test_outages_older_than_a_day_are_not_told(den, mail_now):
    node, _ = den
    goes_quiet(node, 60 * 25)  # e.g. the day the feature is deployed
    with mail_now():
        assert notify_offline_nodes() == 0
    assert mail.outbox == []


def test_the_job_runs_every_minute():
    schedule = Schedule.objects.get(name="nodes: tell owners of offline nodes")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == ("nodes.tasks.notify_offline_nodes", "I", 1)
