"""Live: a real agent suspended by failed checks stops relaying (no assignment); its owner's appeal
puts it on probation, the agent relays again at its next heartbeat, and the real re-check of what
it serves passes and reinstates it."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone
from django_q.conf import Conf

from nodes import services as node_services
from nodes.models import Approval, Node
from streams.models import Stream, StreamSession
from testkit.fixtures import eventually
from testkit.hls import HlsWatcher
from testkit.media import publish_test_source, stop_process
from validation.models import Appeal, AppealOutcome, NodeTrust, Outcome
from validation.services import appeals

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_an_appeal_puts_a_real_agent_back_to_work_and_its_passing_recheck_reinstates_it(
    origin, enroll, make_stream, friend, settings, monkeypatch
):
    monkeypatch.setattr(Conf, "SYNC", True)  # the re-check job and the email job run in this process
    settings.APPEAL_RELAY_WAIT_SECONDS = 45
    _, key = make_stream("alice")
    source = publish_test_source(origin.rtmp_url("alice", key), seconds=120)
    try:
        eventually(lambda: StreamSession.objects.filter(ended_at__isnull=True).exists(), 15, "alice is live")
        agent = enroll("den")
        node = Node.objects.get(name="den")
        node_services.pin(node, Stream.objects.get(slug="alice"))
        agent.start()
        eventually(lambda: HlsWatcher(agent.playlist_url("alice")).poll() >= 1, 30, "the agent relays alice")
        # Failed checks suspended it (as three mismatches would): no assignment, so the agent stops.
        NodeTrust.objects.create(node=node, consecutive_failures=3, suspended_at=timezone.now(), score=0.3)
        node_services.suspend(Node.objects.filter(pk=node.pk), reason="3 failed spot-checks")
        eventually(lambda: not Node.objects.get(pk=node.pk).relay_running, 20, "the suspended agent stops relaying")

        appeal = appeals.open_appeal(node.pk, friend, "it was my router")  # after commit: the job runs
        appeal.refresh_from_db()
        assert appeal.outcome == AppealOutcome.REINSTATED, appeal.detail
        assert appeal.recheck is not None and appeal.recheck.outcome == Outcome.PASS
        assert appeal.recheck.trigger == "appeal"
        node.refresh_from_db()
        assert node.approval == Approval.APPROVED and NodeTrust.objects.get(node=node).consecutive_failures == 0
        assert [e.subject for e in mail.outbox] == ["[StreamrP2P] Appeal accepted: den is reinstated"]
        assert Appeal.objects.count() == 1
    finally:
        stop_process(source)
