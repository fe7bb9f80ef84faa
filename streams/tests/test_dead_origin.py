"""An origin that dies without an unpublish: its session ends at its last sign of life, and only
minutes in which the origin was seen alive are live."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from streams import services
from streams.models import Origin, OriginMinute, StreamSession
from streams.tests.hook_clients import open_session, srs_payload
from testkit.fixtures import eventually
from testkit.media import publish_test_source, stop_process
from validation.services import record_origin_frames


@pytest.mark.django_db
def test_a_session_whose_origin_went_silent_ends_at_its_last_sign_of_life(make_stream, settings):
    settings.STREAM_SESSION_SILENCE_SECONDS = 60
    silent = open_session(make_stream("silent")[0], signal_ago=120)
    talking = open_session(make_stream("talking")[0], signal_ago=10)
    unsignalled = open_session(make_stream("quiet")[0], signal_ago=None)  # an origin without periodic hooks
    assert services.close_silent_sessions() == 1
    silent.refresh_from_db()
    assert (silent.ended_at, silent.end_reason) == (silent.last_signal_at, "silent")
    assert StreamSession.objects.filter(pk__in=[talking.pk, unsignalled.pk], ended_at__isnull=True).count() == 2
    assert services.close_silent_sessions() == 0  # closed once


@pytest.mark.django_db
def test_a_publish_and_each_signal_mark_their_minute_alive(make_stream, post_srs):
    _, key = make_stream("alice")
    assert post_srs(srs_payload("on_publish", key=key)).json() == {"code": 0}
    later = timezone.now() + timedelta(minutes=3)
    session = StreamSession.objects.get()
    assert services.record_signal(
        origin=Origin.SRS, slug="alice", client_id=session.client_id, server_id=session.server_id, now=later
    )
    minutes = sorted(OriginMinute.objects.values_list("minute", flat=True))
    assert minutes == [session.started_at.replace(second=0, microsecond=0), later.replace(second=0, microsecond=0)]


@pytest.mark.django_db
def test_an_origin_sample_is_a_sign_of_life_only_with_frames_never_seen_before(make_stream, post_srs):
    stream, key = make_stream("alice")
    assert post_srs(srs_payload("on_publish", key=key)).json() == {"code": 0}
    OriginMinute.objects.all().delete()
    StreamSession.objects.update(last_signal_at=None)
    first = timezone.now() + timedelta(minutes=1)
    assert record_origin_frames(stream, [b"a" * 16, b"b" * 16], now=first)
    # A dead origin's last playlist stays readable: the same frames again prove nothing.
    assert not record_origin_frames(stream, [b"a" * 16, b"b" * 16], now=first + timedelta(minutes=2))
    assert list(OriginMinute.objects.values_list("minute", flat=True)) == [first.replace(second=0, microsecond=0)]
    assert StreamSession.objects.get().last_signal_at == first


@pytest.mark.django_db
def test_the_silent_session_job_runs_every_minute():
    schedule = Schedule.objects.get(name="streams: close silent sessions")
    assert (schedule.func, schedule.minutes, schedule.repeats) == ("streams.tasks.close_silent_sessions", 1, -1)


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_killed_origin_ends_its_session_at_its_last_hook(origin, make_stream, settings):
    _, key = make_stream("alice")
    publisher = publish_test_source(origin.rtmp_url("alice", key), seconds=90)
    try:
        eventually(lambda: StreamSession.objects.filter(last_signal_at__isnull=False).exists(), 20, "on_update hooks")
        # The origin dies at once (power cut, OOM kill): no on_publish_done, no more hooks.
        assert origin.process is not None
        os.killpg(origin.process.pid, signal.SIGKILL)  # master and workers at once: none respawned, none left
        died = timezone.now()
        time.sleep(settings.STREAM_SESSION_SILENCE_SECONDS + 2)
        assert StreamSession.objects.get().ended_at is None  # nothing told the site
        assert services.close_silent_sessions() == 1
        session = StreamSession.objects.get()
        assert session.end_reason == "silent" and session.ended_at <= died
        assert not OriginMinute.objects.filter(minute__gt=died).exists()
    finally:
        stop_process(publisher)


@pytest.mark.django_db
def test_a_session_ended_as_silent_comes_back_when_its_origin_speaks_again(make_stream, settings):
    """The site (or its hooks) was out for longer than the silence: the publish never stopped."""
    settings.STREAM_SESSION_SILENCE_SECONDS = 60
    stream, _ = make_stream("alice")
    session = open_session(stream, signal_ago=300)
    assert services.close_silent_sessions() == 1
    back = timezone.now()
    assert services.record_signal(origin=Origin.SRS, slug="alice", client_id=session.client_id, now=back)
    session.refresh_from_db()
    assert (session.ended_at, session.last_signal_at) == (None, back)
    # Another publisher took over meanwhile: the old one does not come back.
    services.close_silent_sessions(now=back + timedelta(minutes=5))
    StreamSession.objects.create(
        stream=stream, origin=Origin.SRS, client_id="new", started_at=back + timedelta(minutes=6)
    )
    assert not services.record_signal(origin=Origin.SRS, slug="alice", client_id=session.client_id)
