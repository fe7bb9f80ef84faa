"""nginx-rtmp's on_publish / on_publish_done form hooks."""

from __future__ import annotations

import pytest
from django.conf import settings

from streams.models import Origin, StreamSession
from streams.tests.hook_clients import nginx_form

pytestmark = pytest.mark.django_db


def test_admits_publish_with_the_right_key(post_nginx, stream_and_key):
    _, key = stream_and_key
    response = post_nginx("publish", nginx_form(key=key))
    assert response.status_code == 200
    session = StreamSession.objects.get()
    assert (session.origin, session.client_id, session.publisher_ip) == (
        Origin.NGINX_RTMP,
        "17",
        "192.0.2.20",
    )


def test_refuses_publish_with_wrong_key(post_nginx, stream_and_key):
    response = post_nginx("publish", nginx_form(key="nope"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "wrong_key"


def test_refuses_publish_of_an_unknown_stream(post_nginx, stream_and_key):
    _, key = stream_and_key
    assert post_nginx("publish", nginx_form("ghost", key=key)).status_code == 404


def test_refuses_publish_with_a_wrong_secret(post_nginx, stream_and_key):
    _, key = stream_and_key
    assert post_nginx("publish", nginx_form(key=key), secret="guess").status_code == 403
    assert not StreamSession.objects.exists()


def test_refuses_a_second_concurrent_publisher(post_nginx, stream_and_key):
    _, key = stream_and_key
    post_nginx("publish", nginx_form(key=key, clientid="1"))
    assert post_nginx("publish", nginx_form(key=key, clientid="2")).status_code == 409


def test_publish_done_closes_the_session_once(post_nginx, stream_and_key):
    _, key = stream_and_key
    post_nginx("publish", nginx_form(key=key))
    assert post_nginx("publish_done", nginx_form(key=key)).status_code == 200
    assert post_nginx("publish_done", nginx_form(key=key)).status_code == 200
    session = StreamSession.objects.get()
    assert session.ended_at is not None


@pytest.mark.parametrize("missing", ["name", "clientid", "app"])
def test_answers_400_when_a_field_is_missing(post_nginx, stream_and_key, missing):
    _, key = stream_and_key
    form = nginx_form(key=key)
    del form[missing]
    response = post_nginx("publish", form)
    assert response.status_code == 400
    assert missing in response.json()["error"]["message"]


@pytest.mark.parametrize("event", ["connect", "update", "done", "record_done"])
def test_accepts_events_it_does_not_use(post_nginx, event):
    # on_update answered with non-2xx would make nginx drop the client: always allow.
    assert post_nginx(event, nginx_form()).status_code == 200


def test_answers_400_to_a_broken_multipart_body(client, stream_and_key):
    response = client.post(
        f"/hooks/nginx-rtmp/publish?secret={settings.HOOK_SECRET}",
        data=b"--x\r\nbroken",
        content_type="multipart/form-data; boundary=x",
    )
    assert response.status_code == 400


def test_publish_url_arguments_cannot_override_nginx_fields(client, make_stream):
    """…/live/alice?key=<alice's key>&name=bob must not open a session for bob."""
    _, alice_key = make_stream("alice")
    make_stream("bob")
    # nginx-rtmp's body: its own fields first, then the publish URL's arguments verbatim.
    body = (
        "app=live&flashver=FMLE&swfurl=&tcurl=rtmp%3A%2F%2F127.0.0.1%2Flive&pageurl=&addr=127.0.0.1"
        f"&clientid=3&call=publish&name=alice&type=live&key={alice_key}&name=bob&clientid=999&addr=203.0.113.9"
    )
    response = client.post(
        f"/hooks/nginx-rtmp/publish?secret={settings.HOOK_SECRET}",
        data=body,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    session = StreamSession.objects.get()
    assert (session.stream.slug, session.client_id, session.publisher_ip) == ("alice", "3", "127.0.0.1")
