"""The admin: streams (create with a key shown once, rotate, deactivate), sessions with filters."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from streams import keys
from streams.models import Stream, StreamSession
from streams.tests.hook_clients import srs_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client, admin_user):
    client.force_login(admin_user)
    return client


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_adding_a_stream_shows_its_key_once(admin_client_, owner):
    response = admin_client_.post(
        "/admin/streams/stream/add/",
        {"owner": owner.pk, "title": "New", "slug": "new", "reward_rate_per_hour": "3.00", "is_active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    stream = Stream.objects.get(slug="new")
    (message,) = [m for m in messages_of(response) if "Stream key" in m]
    key = message.split("Stream key for new: ")[1].split(" ")[0]
    assert keys.key_matches(key, stream.key_hash)


def test_rotate_action_changes_the_key(admin_client_, stream_and_key):
    stream, old_key = stream_and_key
    response = admin_client_.post(
        "/admin/streams/stream/",
        {"action": "rotate_keys", "_selected_action": [stream.pk]},
        follow=True,
    )
    assert any("Stream key for alice" in m for m in messages_of(response))
    stream.refresh_from_db()
    assert not keys.key_matches(old_key, stream.key_hash)


def test_deactivate_action_refuses_later_publishes(admin_client_, stream_and_key, post_srs):
    stream, key = stream_and_key
    admin_client_.post("/admin/streams/stream/", {"action": "deactivate", "_selected_action": [stream.pk]})
    assert post_srs(srs_payload("on_publish", key=key)).status_code == 403


def test_sessions_list_filters_live_ones_and_can_end_them(admin_client_, stream_and_key, post_srs):
    _, key = stream_and_key
    post_srs(srs_payload("on_publish", key=key))
    session = StreamSession.objects.get()
    live_page = admin_client_.get("/admin/streams/streamsession/?live=yes")
    assert live_page.status_code == 200 and "alice" in live_page.content.decode()
    assert "alice" not in admin_client_.get("/admin/streams/streamsession/?live=no").content.decode()
    admin_client_.post("/admin/streams/streamsession/", {"action": "end_sessions", "_selected_action": [session.pk]})
    session.refresh_from_db()
    assert session.ended_at is not None and session.end_reason == "admin:root"


@pytest.mark.parametrize(
    "url",
    ["/admin/streams/stream/", "/admin/streams/streamsession/?origin=srs", "/admin/streams/streamviewer/"],
)
def test_admin_lists_open_for_staff_only(client, admin_client_, url, stream_and_key, friend):
    assert admin_client_.get(url).status_code == 200
    client.force_login(friend)
    assert client.get(url).status_code == 302
