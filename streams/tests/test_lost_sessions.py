"""Sessions whose end the origin never reported: late copies refused, silent ones taken over."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from streams.models import StreamSession
from streams.tests.hook_clients import nginx_form, srs_payload

pytestmark = pytest.mark.django_db


def test_a_late_copy_of_an_ended_srs_publish_does_not_reopen_it(post_srs, stream_and_key, client):
    _, key = stream_and_key
    post_srs(srs_payload("on_publish", key=key, client_id="a"))
    post_srs(srs_payload("on_unpublish", client_id="a"))
    late = post_srs(srs_payload("on_publish", key=key, client_id="a"))
    assert late.status_code == 409 and late.json()["error"]["code"] == "session_ended"
    assert client.get("/api/v1/streams").json()[0]["live"] is False
    assert post_srs(srs_payload("on_publish", key=key, client_id="b")).status_code == 200


def test_a_session_still_signalling_keeps_a_second_publisher_out(post_srs, stream_and_key, settings):
    _, key = stream_and_key
    post_srs(srs_payload("on_publish", key=key, client_id="a"))
    assert post_srs(srs_payload("on_hls", client_id="a", duration=2.0, seq_no=1)).status_code == 200
    assert StreamSession.objects.get().last_signal_at is not None
    assert post_srs(srs_payload("on_publish", key=key, client_id="b")).status_code == 409


def test_a_silent_session_is_taken_over_by_the_next_publisher_with_the_key(post_srs, stream_and_key, settings):
    _, key = stream_and_key
    post_srs(srs_payload("on_publish", key=key, client_id="a"))
    post_srs(srs_payload("on_hls", client_id="a"))
    silent_since = timezone.now() - timedelta(seconds=settings.STREAM_SESSION_SILENCE_SECONDS + 1)
    StreamSession.objects.update(last_signal_at=silent_since)
    assert post_srs(srs_payload("on_publish", key=key, client_id="b")).status_code == 200
    old, new = StreamSession.objects.order_by("started_at")
    assert (old.end_reason, new.ended_at) == ("silent", None)


def test_a_silent_session_is_not_taken_over_without_the_key(post_srs, stream_and_key, settings):
    _, key = stream_and_key
    post_srs(srs_payload("on_publish", key=key, client_id="a"))
    StreamSession.objects.update(last_signal_at=timezone.now() - timedelta(days=1))
    assert post_srs(srs_payload("on_publish", key="sk_wrong", client_id="b")).status_code == 403
    assert StreamSession.objects.get().ended_at is None


def test_a_session_of_an_origin_that_never_signals_is_never_taken_over(post_srs, stream_and_key):
    _, key = stream_and_key
    post_srs(srs_payload("on_publish", key=key, client_id="a"))
    StreamSession.objects.update(started_at=timezone.now() - timedelta(days=1))
    assert post_srs(srs_payload("on_publish", key=key, client_id="b")).status_code == 409


def test_nginx_update_hooks_keep_the_publishers_session_alive(post_nginx, stream_and_key):
    _, key = stream_and_key
    post_nginx("publish", nginx_form(key=key, clientid="5"))
    assert post_nginx("update", nginx_form(clientid="5")).status_code == 200
    assert StreamSession.objects.get().last_signal_at is not None
    assert post_nginx("update", nginx_form(clientid="77")).status_code == 200  # a player: ignored
