"""The public /payouts and payout requests are throttled; /payouts looks back 30 days at most."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_public_payouts_are_throttled_per_address(client, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "public-payouts": (2, 60)}
    assert [client.get("/payouts", REMOTE_ADDR="198.51.100.1").status_code for _ in range(2)] == [200, 200]
    refused = client.get("/payouts", REMOTE_ADDR="198.51.100.1")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert client.get("/payouts", REMOTE_ADDR="198.51.100.2").status_code == 200


@pytest.mark.parametrize("hours_back", ["2160", "721", "100000000000000000000", "0", "abc"])
def test_a_bad_or_too_long_hours_back_is_a_400_not_a_silent_cap(client, hours_back):
    response = client.get(f"/payouts?hours_back={hours_back}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid" and "hours_back" in response.json()["error"]["fields"]


def test_thirty_days_back_is_allowed(client):
    response = client.get("/payouts?hours_back=720")
    assert response.status_code == 200 and response.json()["hours_back"] == 720


def test_payout_requests_are_throttled_per_friend(client, paypal_friend, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "payout-request": (2, 3600)}
    client.force_login(paypal_friend)
    codes = [client.post("/api/v1/payouts", {"amount": "5.00"}, "application/json").status_code for _ in range(3)]
    assert 429 not in codes[:2] and codes[2] == 429
    assert client.get("/api/v1/payouts").status_code == 200  # reading is not counted
