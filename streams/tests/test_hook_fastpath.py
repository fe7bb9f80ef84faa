"""SRS's hooks on the lean route (what the ASGI server runs) are answered exactly as Django's view
answers them."""

from __future__ import annotations

import json

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import Client

from streamrp2p_site.asgi import application
from streams.models import StreamSession
from streams.tests.hook_clients import srs_payload

# The route runs the service in a worker thread: the test data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


def through_asgi(body: bytes, secret: str | None = None, method: str = "POST") -> httpx.Response:
    secret = settings.HOOK_SECRET if secret is None else secret

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.request(
                method, f"/hooks/srs?secret={secret}", content=body, headers={"Content-Type": "application/json"}
            )

    return async_to_sync(send)()


def through_django(body: bytes, secret: str | None = None) -> tuple[int, dict[str, object]]:
    secret = settings.HOOK_SECRET if secret is None else secret
    answer = Client().post(f"/hooks/srs?secret={secret}", data=body, content_type="application/json")
    return answer.status_code, answer.json()


def test_a_publish_with_the_right_key_goes_live_through_the_lean_route(make_stream):
    _, key = make_stream("alice")
    answer = through_asgi(json.dumps(srs_payload("on_publish", "alice", key=key)).encode())
    assert (answer.status_code, answer.json()) == (200, {"code": 0})
    assert StreamSession.objects.filter(stream__slug="alice", ended_at__isnull=True).exists()


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("wrong key", 403),
        ("wrong secret", 403),
        ("bad json", 400),
        ("missing field", 400),
        ("unknown action", 200),
        ("segment of a stream not live", 200),
    ],
)
def test_refusals_and_no_ops_are_the_same_as_djangos(make_stream, case, status):
    _, key = make_stream("alice")
    secret = None
    body = json.dumps(srs_payload("on_publish", "alice", key="wrong")).encode()
    if case == "wrong secret":
        body, secret = json.dumps(srs_payload("on_publish", "alice", key=key)).encode(), "nope"
    elif case == "bad json":
        body = b"{not json"
    elif case == "missing field":
        body = json.dumps({k: v for k, v in srs_payload("on_publish", key=key).items() if k != "client_id"}).encode()
    elif case == "unknown action":
        body = json.dumps(srs_payload("on_dvr", "alice")).encode()
    elif case == "segment of a stream not live":
        body = json.dumps(srs_payload("on_hls", "alice")).encode()
    fast = through_asgi(body, secret)
    assert (fast.status_code, fast.json()) == through_django(body, secret)
    assert fast.status_code == status
    assert not StreamSession.objects.exists()


def test_an_oversized_body_is_refused_before_any_work():
    answer = through_asgi(b"x" * 70_000)
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_large"


def test_other_methods_go_to_django():
    assert through_asgi(b"", method="GET").status_code == 405
