"""SRS on_publish / on_unpublish: who may go live, and what the site then shows."""

from __future__ import annotations

import pytest

from streams.models import StreamSession
from streams.tests.hook_clients import srs_payload

pytestmark = pytest.mark.django_db


def live_state(client, slug="alice"):
    streams = {s["slug"]: s for s in client.get("/api/v1/streams").json()}
    return streams[slug]


def test_admits_publish_with_the_right_key(post_srs, stream_and_key, client):
    stream, key = stream_and_key
    response = post_srs(srs_payload("on_publish", key=key))
    assert response.status_code == 200
    assert response.json() == {"code": 0}
    session = StreamSession.objects.get(stream=stream)
    assert session.ended_at is None
    assert (session.client_id, session.server_id, session.publisher_ip) == (
        "341w361a",
        "vid-0xk989d",
        "192.0.2.10",
    )
    state = live_state(client)
    assert state["live"] is True and state["live_since"] is not None


def test_refuses_publish_with_wrong_key(post_srs, stream_and_key):
    response = post_srs(srs_payload("on_publish", key="sk_not-the-key"))
    assert response.status_code == 403
    body = response.json()
    assert body["code"] != 0
    assert body["error"]["code"] == "wrong_key"
    assert not StreamSession.objects.exists()


def test_refuses_publish_without_a_key(post_srs, stream_and_key):
    response = post_srs(srs_payload("on_publish"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "wrong_key"


def test_refuses_publish_of_an_unknown_stream(post_srs, stream_and_key):
    _, key = stream_and_key
    response = post_srs(srs_payload("on_publish", stream="nobody", key=key))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_stream"


def test_refuses_publish_to_another_app(post_srs, stream_and_key):
    _, key = stream_and_key
    response = post_srs(srs_payload("on_publish", key=key, app="vod"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_app"


def test_refuses_publish_of_an_inactive_stream(post_srs, make_stream):
    _, key = make_stream("alice", is_active=False)
    response = post_srs(srs_payload("on_publish", key=key))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "stream_inactive"


@pytest.mark.parametrize("secret", ["wrong", ""])
def test_refuses_any_hook_with_a_wrong_or_missing_secret(post_srs, stream_and_key, secret):
    _, key = stream_and_key
    response = post_srs(srs_payload("on_publish", key=key), secret=secret)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "bad_hook_secret"
    assert not StreamSession.objects.exists()


def test_refuses_a_second_concurrent_publisher(post_srs, stream_and_key):
    _, key = stream_and_key
    assert post_srs(srs_payload("on_publish", key=key, client_id="first")).status_code == 200
    response = post_srs(srs_payload("on_publish", key=key, client_id="second"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_live"
    assert StreamSession.objects.get().client_id == "first"


def test_a_repeated_publish_hook_keeps_one_session(post_srs, stream_and_key):
    _, key = stream_and_key
    first = post_srs(srs_payload("on_publish", key=key))
    again = post_srs(srs_payload("on_publish", key=key))
    assert (first.status_code, again.status_code) == (200, 200)
    assert StreamSession.objects.count() == 1


def test_unpublish_marks_the_stream_not_live(post_srs, stream_and_key, client):
    _, key = stream_and_key
    post_srs(srs_payload("on_publish", key=key))
    response = post_srs(srs_payload("on_unpublish", key=key))
    assert response.status_code == 200 and response.json() == {"code": 0}
    state = live_state(client)
    assert state["live"] is False and state["live_since"] is None
    session = StreamSession.objects.get()
    assert session.ended_at is not None and session.end_reason == "unpublish"


def test_a_duplicate_or_late_unpublish_changes_nothing(post_srs, stream_and_key):
    _, key = stream_and_key
    post_srs(srs_payload("on_publish", key=key, client_id="old"))
    post_srs(srs_payload("on_unpublish", client_id="old"))
    ended_at = StreamSession.objects.get().ended_at
    post_srs(srs_payload("on_publish", key=key, client_id="new"))
    # The old publisher's unpublish arrives again, late: the new session stays live.
    assert post_srs(srs_payload("on_unpublish", client_id="old")).status_code == 200
    assert StreamSession.objects.get(client_id="old").ended_at == ended_at
    assert StreamSession.objects.get(client_id="new").ended_at is None


def test_an_unpublish_before_any_publish_is_ignored(post_srs, stream_and_key):
    response = post_srs(srs_payload("on_unpublish"))
    assert response.status_code == 200
    assert not StreamSession.objects.exists()


def test_the_stream_can_go_live_again_after_unpublish(post_srs, stream_and_key):
    _, key = stream_and_key
    post_srs(srs_payload("on_publish", key=key, client_id="a"))
    post_srs(srs_payload("on_unpublish", client_id="a"))
    assert post_srs(srs_payload("on_publish", key=key, client_id="b")).status_code == 200
    assert StreamSession.objects.filter(ended_at__isnull=True).get().client_id == "b"


def test_accepts_an_old_srs_integer_client_id(post_srs, stream_and_key):
    _, key = stream_and_key
    assert post_srs(srs_payload("on_publish", key=key, client_id=1985)).status_code == 200
    assert StreamSession.objects.get().client_id == "1985"


def test_keeps_the_session_when_the_ip_is_not_an_address(post_srs, stream_and_key):
    _, key = stream_and_key
    assert post_srs(srs_payload("on_publish", key=key, ip="not-an-ip")).status_code == 200
    assert StreamSession.objects.get().publisher_ip is None
