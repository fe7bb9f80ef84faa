"""POST /api/v1/nodes/register is throttled per client address (core/throttle.py): 429 with
Retry-After and the JSON error body; with Redis unreachable the limiter lets registrations through."""

from __future__ import annotations

import json

import pytest

from nodes import services
from testkit.redis_down import redis_unreachable  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db
BAD = {"token": "et_not-a-real-token", "name": "n1", "public_url": "http://n1.example:8090"}


def register(client, body, address="198.51.100.1"):
    return client.post("/api/v1/nodes/register", json.dumps(body), content_type="application/json", REMOTE_ADDR=address)


def test_registration_is_throttled_per_address_with_a_json_429(client, friend, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "register": (3, 3600)}
    assert [register(client, BAD).status_code for _ in range(3)] == [403] * 3  # guessing tokens
    _, token = services.create_enrollment_token(friend)
    refused = register(client, {**BAD, "token": token})  # even a good token, from this address
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 3600
    assert refused.json()["error"]["code"] == "throttled" and "Retry-After" in refused
    assert register(client, {**BAD, "token": token}, address="2001:db8::1").status_code == 201
    # An IPv6 client is counted by its /64: the neighbouring address shares its count.
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "register": (1, 3600)}
    assert register(client, BAD, address="2001:db8::2").status_code == 429
    assert register(client, BAD, address="2001:db8:0:1::1").status_code == 403


def test_with_redis_unreachable_registration_fails_open(client, friend, settings, redis_unreachable, caplog):  # noqa: F811
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "register": (1, 3600)}
    assert {register(client, BAD).status_code for _ in range(5)} == {403}  # never 429, never 500
    _, token = services.create_enrollment_token(friend)
    assert register(client, {**BAD, "token": token}).status_code == 201
    assert "redis (cache) unavailable" in caplog.text
