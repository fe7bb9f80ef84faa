"""Permission matrix: a friend never reaches another friend's nodes, keys, earnings or payout details,
through any page or API (the websocket has its own tests in test_live_updates.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from rewards import services as reward_services
from rewards.models import EntryKind, LedgerEntry, Settlement
from streams.models import Stream
from validation.models import Outcome, SpotCheck

pytestmark = pytest.mark.django_db

PAGES = ["/me", "/me/earnings", "/me/earnings?by=hour", "/me/payouts", "/me/streams", "/nodes/add"]
APIS = ["/api/v1/earnings", "/api/v1/payouts", "/api/v1/payouts/method"]
SECRETS = ["friends-den", "friend-secret@example.com", "12.34", "4.56"]  # node, payout address, balance, credit


@pytest.fixture
def friends_things(friend, admin_user, register, make_stream):
    node, _ = register("friends-den", user=friend)
    reward_services.add_correction(friend.pk, Decimal("12.34"), actor=admin_user, memo="earned")
    reward_services.set_payout_method(friend, kind="paypal", address="friend-secret@example.com")
    reward_services.request_payout(friend, "6.00")
    stream, key = make_stream("alice", reward_rate_per_hour=Decimal("4.56"))  # owned by `owner`
    # A settled hour credited to the friend's node: earnings pages and APIs read these.
    hour = reward_services.hour_start(timezone.now())
    settlement = Settlement.objects.create(
        stream=stream, hour=hour, live_seconds=3600, pool=Decimal("4.56"), credited=Decimal("4.56"), nodes=1
    )
    LedgerEntry.objects.create(
        user=friend,
        kind=EntryKind.CREDIT,
        amount=Decimal("4.56"),
        settlement=settlement,
        node=node,
        stream=stream,
        minutes=60,
    )
    SpotCheck.objects.create(node=node, checked_at=timezone.now(), outcome=Outcome.PASS, latency_ms=1)
    return stream, key


@pytest.mark.parametrize("url", PAGES + APIS)
def test_anonymous_visitors_are_sent_to_log_in_or_refused(client, url):
    response = client.get(url)
    if url.startswith("/api/"):
        assert response.status_code == 403
    else:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("url", PAGES + APIS)
def test_another_friend_sees_none_of_the_friends_details(client, outsider, friends_things, url):
    client.force_login(outsider)
    response = client.get(url)
    assert response.status_code in (200, 404)
    body = response.content.decode()
    for secret in SECRETS:
        assert secret not in body, f"{secret} leaked on {url}"


@pytest.mark.parametrize("url", PAGES[:-2] + APIS)
def test_the_friend_sees_their_own_details(client, friend, friends_things, url):
    client.force_login(friend)
    body = client.get(url).content.decode()
    assert any(secret in body for secret in SECRETS), url  # so the outsider test above can fail


def test_only_the_streamer_sees_and_rotates_their_stream_key(client, owner, outsider, friends_things):
    stream, _ = friends_things
    client.force_login(outsider)
    assert "alice" not in client.get("/me/streams").content.decode()
    assert client.post("/me/streams/alice/rotate-key").status_code == 404
    assert Stream.objects.get(pk=stream.pk).key_hash == stream.key_hash
    client.force_login(owner)
    page = client.post("/me/streams/alice/rotate-key", follow=True).content.decode()
    assert "alice?key=" in page and "shown only once" in page
    assert "alice?key=sk_" not in client.get("/me/streams").content.decode()  # and never again
    assert Stream.objects.get(pk=stream.pk).key_hash != stream.key_hash


def test_a_friend_cannot_decide_or_see_payouts_in_the_admin(client, friend, friends_things):
    client.force_login(friend)
    assert client.get("/admin/rewards/payoutrequest/").status_code == 302
