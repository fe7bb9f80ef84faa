"""Bad or unexpected SRS hook bodies get a clear answer, never a 500."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from streams.models import StreamSession
from streams.tests.hook_clients import srs_payload

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b"\xff\xfe", b"[1, 2]", b'"on_publish"', b"null"],
    ids=["broken", "empty", "not-utf8", "array", "string", "null"],
)
def test_answers_400_to_a_body_that_is_not_a_json_object(post_srs, raw):
    response = post_srs(None, raw=raw)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize("missing", ["action", "app", "stream", "client_id"])
def test_answers_400_when_a_required_field_is_missing(post_srs, stream_and_key, missing):
    _, key = stream_and_key
    body = srs_payload("on_publish", key=key)
    del body[missing]
    response = post_srs(body)
    assert response.status_code == 400
    assert missing in response.json()["error"]["message"]
    assert not StreamSession.objects.exists()


@pytest.mark.parametrize(
    "field, value",
    [
        ("stream", ["alice"]),
        ("client_id", {"id": 1}),
        ("stream", "a" * 500),
        ("client_id", "bad\x00id"),
        ("app", True),
    ],
)
def test_answers_400_to_fields_of_the_wrong_type_or_size(post_srs, stream_and_key, field, value):
    _, key = stream_and_key
    response = post_srs(srs_payload("on_publish", key=key, **{field: value}))
    assert response.status_code == 400
    assert not StreamSession.objects.exists()


@pytest.mark.parametrize("action", ["on_connect", "on_close", "on_hls", "on_hls_notify", "on_dvr", "on_forward"])
def test_accepts_and_ignores_actions_it_does_not_use(post_srs, action):
    body = srs_payload(action, duration=2.0, file="./objs/nginx/html/live/alice-1.ts", seq_no=1)
    response = post_srs(body)
    assert response.status_code == 200
    assert response.json() == {"code": 0}


def test_refuses_get_requests_with_a_json_error(client):
    response = client.get(f"/hooks/srs?secret={settings.HOOK_SECRET}")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_ignores_extra_query_parameters_in_param(post_srs, stream_and_key):
    _, key = stream_and_key
    body = srs_payload("on_publish", param=f"?vhost=x&key={key}&token=abc")
    assert post_srs(body).status_code == 200


def test_refuses_a_hook_without_any_secret_parameter(client, stream_and_key):
    _, key = stream_and_key
    body = json.dumps(srs_payload("on_publish", key=key))
    response = client.post("/hooks/srs", data=body, content_type="application/json")
    assert response.status_code == 403
    assert not StreamSession.objects.exists()


def test_answers_400_to_deeply_nested_json(post_srs):
    assert post_srs(None, raw=b"[" * 200_000).status_code == 400


@pytest.mark.parametrize(
    "raw",
    [
        b'{"action": "on_publish", "app": "live", "stream": "al\\udfffice", "client_id": "c"}',
        b'{"action": "on_publish", "app": "live", "stream": "alice", "client_id": "c\\ud800"}',
        b'{"action": "on_publish", "app": "live", "stream": "a", "client_id": "c", "param": "?key=\\udfff"}',
        b'{"action": "on_publish", "app": "live", "stream": "al\xed\xa0\x80ice", "client_id": "c"}',
    ],
    ids=["escaped-in-stream", "escaped-in-client-id", "escaped-in-param", "raw-bytes"],
)
def test_answers_400_to_lone_surrogates(post_srs, stream_and_key, raw):
    assert post_srs(None, raw=raw).status_code == 400
