"""Throttles of pages (core/throttle.py): invite links and enrollment tokens answer 429 with
Retry-After past their limits, counted per account when signed in, else per client address."""

from __future__ import annotations

import pytest

from accounts import services as account_services
from nodes.models import EnrollmentToken

pytestmark = pytest.mark.django_db


def limit(settings, scope: str, requests: int, seconds: int = 3600) -> None:
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, scope: (requests, seconds)}


def test_invite_links_are_throttled_per_address(client, settings):
    limit(settings, "invite", 3)
    settings.SITE_URL = "http://testserver"
    _, link = account_services.create_invite("new@example.com")
    path = link.removeprefix("http://testserver")
    assert [client.get(path, REMOTE_ADDR="198.51.100.1").status_code for _ in range(3)] == [200] * 3
    guessing = client.get("/accounts/invite/inv_guess", REMOTE_ADDR="198.51.100.1")  # guesses count too
    assert guessing.status_code == 429 and 1 <= int(guessing["Retry-After"]) <= 3600
    assert "Too many requests" in guessing.content.decode()  # a page, for people
    signup = {"username": "x", "password1": "a-long-pass-phrase-42", "password2": "a-long-pass-phrase-42"}
    assert client.post(path, signup, REMOTE_ADDR="198.51.100.1").status_code == 429
    assert client.get(path, REMOTE_ADDR="198.51.100.2").status_code == 200  # another address


def test_enrollment_tokens_are_throttled_per_friend(client, friend, outsider, settings):
    limit(settings, "enrollment-token", 2)
    client.force_login(friend)
    assert [client.post("/nodes/add").status_code for _ in range(2)] == [200, 200]
    refused = client.post("/nodes/add")
    assert refused.status_code == 429 and "Retry-After" in refused
    assert EnrollmentToken.objects.filter(user=friend).count() == 2  # the refused POST made none
    assert client.get("/nodes/add").status_code == 200  # only making tokens is counted
    client.force_login(outsider)
    assert client.post("/nodes/add").status_code == 200  # per friend, not per address


def test_the_default_limits_leave_room_for_legitimate_use(settings):
    rates = settings.THROTTLE_RATES
    assert rates["enrollment-token"][0] >= 3 * settings.NODE_MAX_PER_USER  # every node, twice over
    assert rates["register"][0] >= 3 * settings.NODE_MAX_PER_USER
    # A household of PLAYBACK_WATCHERS_PER_ADDRESS watch pages each asking every 5 s (off air).
    assert rates["playback"] == (300, 60) and settings.PLAYBACK_WATCHERS_PER_ADDRESS * 12 <= 300
