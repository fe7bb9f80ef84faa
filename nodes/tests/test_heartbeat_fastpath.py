"""The lean heartbeat route (what the ASGI server runs) answers exactly as the DRF view does."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from nodes.models import NodeMinute
from nodes.tests.fixtures import beat_body
from streamrp2p_site.asgi import application

# The route runs the service in a worker thread: the test data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/nodes/heartbeat"


def through_asgi(body: bytes, headers: dict[str, str]) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.post(URL, content=body, headers=headers)

    return async_to_sync(send)()


def through_django(body: bytes, headers: dict[str, str]) -> Any:
    extra = {"HTTP_AUTHORIZATION": headers["Authorization"]} if "Authorization" in headers else {}
    return Client().post(URL, data=body, content_type=headers.get("Content-Type", ""), **extra)


def both(body: bytes, headers: dict[str, str]) -> tuple[tuple[int, Any], tuple[int, Any]]:
    fast = through_asgi(body, headers)
    slow = through_django(body, headers)
    return (fast.status_code, fast.json()), (slow.status_code, slow.json())


def json_headers(api_key: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def test_an_accepted_heartbeat_lands_in_the_minute_bucket_like_through_django(register):
    _, api_key = register("den")
    fast = through_asgi(json.dumps(beat_body(1, "s1")).encode(), json_headers(api_key))
    slow = through_django(json.dumps(beat_body(2, "s1")).encode(), json_headers(api_key))
    assert (fast.status_code, slow.status_code) == (200, 200)
    assert fast.json() == slow.json() and fast.json()["accepted"] is True
    assert sum(NodeMinute.objects.values_list("heartbeats", flat=True)) == 2


def test_a_replayed_heartbeat_is_answered_but_not_counted(register):
    _, api_key = register("den")
    body = json.dumps(beat_body(1, "s1")).encode()
    through_asgi(body, json_headers(api_key))
    again = through_asgi(body, json_headers(api_key))
    assert again.status_code == 200 and again.json()["accepted"] is False


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("no key", 401, "unauthenticated"),
        ("unknown key", 401, "bad_api_key"),
        ("missing field", 400, "invalid"),
        ("bad json", 400, "parse_error"),
        ("not json", 415, "unsupported_media_type"),
    ],
)
def test_refusals_are_the_same_as_djangos(register, case, status, code):
    _, api_key = register("den")
    body = json.dumps(beat_body(1, "s1")).encode()
    headers = json_headers(api_key)
    if case == "no key":
        headers = json_headers(None)
    elif case == "unknown key":
        headers = json_headers("nk_" + "0" * 40)
    elif case == "missing field":
        body = json.dumps({k: v for k, v in beat_body(1, "s1").items() if k != "seq"}).encode()
    elif case == "bad json":
        body = b"{not json"
    elif case == "not json":
        headers["Content-Type"] = "text/plain"
    (fast_status, fast), (slow_status, slow) = both(body, headers)
    assert fast_status == slow_status == status
    assert fast["error"]["code"] == slow["error"]["code"] == code
    if case != "bad json":  # the parser's wording differs; the code is what clients read
        assert fast == slow


def test_a_refused_key_is_told_how_to_authenticate():
    answer = through_asgi(b"{}", json_headers(None))
    assert answer.headers["www-authenticate"] == 'Bearer realm="streamrp2p-nodes"'


def test_too_many_heartbeats_get_429_with_retry_after(register, settings):
    settings.HEARTBEAT_RATE_LIMIT = 1
    _, api_key = register("den")
    through_asgi(json.dumps(beat_body(1, "s1")).encode(), json_headers(api_key))
    answer = through_asgi(json.dumps(beat_body(2, "s1")).encode(), json_headers(api_key))
    assert answer.status_code == 429 and int(answer.headers["retry-after"]) >= 1
    assert answer.json()["error"]["code"] == "rate_limited"


def test_an_oversized_body_is_refused_before_any_work():
    answer = through_asgi(b"x" * 70_000, json_headers("nk_whatever"))
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_large"


def test_every_other_request_goes_to_django():
    answer = through_asgi(b"", {})  # POST without a body to the heartbeat still is the route...
    assert answer.status_code == 415

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get("/api/v1/streams")

    assert async_to_sync(get)().status_code == 200  # ...while other paths are Django's
