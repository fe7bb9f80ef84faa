"""Friends' money pages: the earnings chart, payouts (method and request) and the leaderboard."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rewards import services
from rewards.models import PayoutRequest
from validation.models import SpotCheck

pytestmark = pytest.mark.django_db


@pytest.fixture
def earned(earned, hour):
    """rewards' settled credit for 'den', vested: a passing check after the hour verified it."""
    SpotCheck.objects.create(node=earned, checked_at=hour + timedelta(hours=1, minutes=5), outcome="pass", latency_ms=5)
    services.vest_due()
    return earned


def test_the_earnings_page_draws_a_bar_per_hour_and_lists_nodes(client, friend, earned, hour):
    client.force_login(friend)
    page = client.get("/me/earnings?by=hour").content.decode()
    assert page.count("<rect ") == 1 and f"{hour:%H}:00: 6.00" in page
    assert "den" in page and "6.00 USD" in page


def test_the_earnings_page_has_an_empty_state(client, friend):
    client.force_login(friend)
    assert "No earnings in this period yet." in client.get("/me/earnings").content.decode()


def test_a_friend_sets_a_method_and_requests_a_payout_on_the_page(client, friend, earned):
    client.force_login(friend)
    assert "Set a payout method below first." in client.get("/me/payouts").content.decode()
    bad = client.post("/me/payouts", {"form": "method", "kind": "paypal", "address": "nope"})
    assert "not an email address" in bad.content.decode()
    client.post("/me/payouts", {"form": "method", "kind": "paypal", "address": "den@example.com"})
    too_much = client.post("/me/payouts", {"form": "request", "amount": "60.00"})
    assert "Only 6.00 USD is available" in too_much.content.decode()
    done = client.post("/me/payouts", {"form": "request", "amount": "5.50"}, follow=True).content.decode()
    assert "Payout of 5.50 USD requested." in done and 'data-field="status">requested<' in done
    assert PayoutRequest.objects.get().address == "den@example.com"


def test_the_leaderboard_page_ranks_friends(client, friend, outsider, earned):
    client.force_login(outsider)
    page = client.get("/leaderboard?window=7d").content.decode()
    assert '<td data-label="Friend">friend</td>' in page and "100.0 %" in page and "6.00 USD" in page


def test_the_leaderboard_page_has_an_empty_state_and_ignores_unknown_windows(client, outsider):
    client.force_login(outsider)
    page = client.get("/leaderboard?window=bogus").content.decode()
    assert "Nobody has earned in this window yet." in page and "<strong>24h</strong>" in page
