"""An admin's "End session": a dead session (its origin silent) ends at its last sign of life, not
when the admin gets round to it; a session that still speaks, or whose origin sends no periodic
signs, ends now. Settlement pays only minutes of a session in which the origin was alive, and the
session's viewers end with it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from streams import services
from streams.models import StreamSession, StreamViewer
from streams.tests import hook_clients
from streams.tests.hook_clients import srs_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client, admin_user):
    client.force_login(admin_user)
    return client


def open_session(stream, *, signal_ago: float | None) -> StreamSession:
    return hook_clients.open_session(stream, signal_ago=signal_ago, started_ago=timedelta(hours=2))


def end_in_admin(client, *sessions: StreamSession) -> None:
    answer = client.post(
        "/admin/streams/streamsession/", {"action": "end_sessions", "_selected_action": [s.pk for s in sessions]}
    )
    assert answer.status_code == 302


def test_ending_a_silent_session_ends_it_at_its_last_sign_of_life(admin_client_, make_stream, settings):
    settings.STREAM_SESSION_SILENCE_SECONDS = 60
    stream, _ = make_stream("alice")
    dead = open_session(stream, signal_ago=3600)  # the origin crashed an hour ago, no on_unpublish
    viewer = StreamViewer.objects.create(stream=stream, session=dead, client_id="v1", started_at=dead.started_at)
    end_in_admin(admin_client_, dead)
    dead.refresh_from_db()
    viewer.refresh_from_db()
    assert (dead.ended_at, dead.end_reason) == (dead.last_signal_at, "admin:root")
    assert viewer.ended_at == dead.last_signal_at  # its viewers could not outlive the publish


def test_a_session_that_still_speaks_ends_now(admin_client_, make_stream, settings):
    settings.STREAM_SESSION_SILENCE_SECONDS = 60
    talking = open_session(make_stream("alice")[0], signal_ago=5)
    before = timezone.now()
    end_in_admin(admin_client_, talking)
    talking.refresh_from_db()
    assert talking.ended_at is not None and before <= talking.ended_at <= timezone.now()


def test_a_session_whose_origin_sends_no_signs_ends_now(make_stream, settings):
    """An origin without periodic hooks never says when it died: nothing to end at but now."""
    settings.STREAM_SESSION_SILENCE_SECONDS = 60
    quiet = open_session(make_stream("alice")[0], signal_ago=None)
    before = timezone.now()
    assert services.end_session(quiet, reason="admin:root")
    assert quiet.ended_at is not None and before <= quiet.ended_at <= timezone.now()


def test_a_session_ended_once_is_not_ended_again(make_stream, settings):
    settings.STREAM_SESSION_SILENCE_SECONDS = 60
    dead = open_session(make_stream("alice")[0], signal_ago=600)
    assert services.end_session(dead, reason="admin:root")
    assert not services.end_session(dead, reason="admin:other")
    dead.refresh_from_db()
    assert (dead.ended_at, dead.end_reason) == (dead.last_signal_at, "admin:root")


def test_a_stream_ended_as_dead_can_go_live_again_at_once(make_stream, settings, post_srs):
    settings.STREAM_SESSION_SILENCE_SECONDS = 60
    stream, key = make_stream("alice")
    dead = open_session(stream, signal_ago=600)
    assert services.end_session(dead, reason="admin:root")
    assert post_srs(srs_payload("on_publish", key=key, client_id="fresh")).json() == {"code": 0}
    assert StreamSession.objects.get(ended_at__isnull=True).client_id == "fresh"
