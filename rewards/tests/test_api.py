"""The friends' money API: earnings, leaderboard, payouts (mine only) and the public /payouts."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command

from rewards import services
from rewards.tests.helpers import relayed

pytestmark = pytest.mark.django_db


@pytest.fixture
def settled(live_alice, register, hour, friend, outsider):
    """alice live the whole hour (pool 6.00): friend's node relayed 60 minutes, outsider's 30."""
    alice = live_alice(until=None)
    mine, _ = register("mine", user=friend)
    theirs, _ = register("theirs", user=outsider)
    relayed(mine, alice, hour, range(60))
    relayed(theirs, alice, hour, range(30))
    services.settle_hour(hour)
    return mine, theirs


def get(client, url, user=None):
    if user is not None:
        client.force_login(user)
    response = client.get(url)
    return response.status_code, response.json()


def test_earnings_show_my_credits_by_hour_and_by_node(client, friend, settled, hour):
    status, body = get(client, "/api/v1/earnings?by=hour&days=1", friend)
    assert status == 200
    # Credited, not payable yet: no later check has verified the hour.
    assert (body["currency"], body["total"], body["balance"]) == ("USD", "4.00", "4.00")
    assert (body["unvested"], body["available"]) == ("4.00", "0.00")
    (period,) = body["periods"]
    assert (period["amount"], period["minutes"]) == ("4.00", 60)
    assert period["start"].startswith(hour.strftime("%Y-%m-%dT%H:00:00"))
    assert [(n["name"], n["amount"]) for n in body["nodes"]] == [("mine", "4.00")]


def test_earnings_by_day_add_up_the_hours(client, outsider, settled, hour):
    status, body = get(client, "/api/v1/earnings", outsider)  # default: by day, last 7 days
    assert status == 200 and body["by"] == "day"
    assert [p["amount"] for p in body["periods"]] == ["2.00"]
    assert body["periods"][0]["start"].startswith(hour.strftime("%Y-%m-%dT00:00:00"))


@pytest.mark.parametrize("query", ["by=week", "days=0", "days=91", "days=x"])
def test_earnings_refuse_bad_queries_with_a_json_error(client, friend, query):
    status, body = get(client, f"/api/v1/earnings?{query}", friend)
    assert status == 400 and body["error"]["code"] == "invalid"


def test_the_leaderboard_ranks_nodes_and_friends_by_earnings_and_uptime(client, friend, settled):
    status, body = get(client, "/api/v1/leaderboard?window=24h", friend)
    assert status == 200
    assert [
        (n["rank"], n["name"], n["friend"], n["earned"], n["verified_minutes"], n["uptime_percent"])
        for n in body["nodes"]
    ] == [(1, "mine", "friend", "4.00", 60, "100.0"), (2, "theirs", "outsider", "2.00", 30, "50.0")]
    assert [(f["friend"], f["earned"], f["nodes"]) for f in body["friends"]] == [
        ("friend", "4.00", 1),
        ("outsider", "2.00", 1),
    ]


def test_the_leaderboard_window_leaves_older_hours_out(client, friend, settled):
    from rewards.models import Settlement

    Settlement.objects.update(hour=Settlement.objects.get().hour - timedelta(days=8))
    assert get(client, "/api/v1/leaderboard?window=7d", friend)[1]["nodes"] == []
    assert len(get(client, "/api/v1/leaderboard?window=30d", friend)[1]["nodes"]) == 2
    status, body = get(client, "/api/v1/leaderboard?window=1y", friend)
    assert status == 400 and "window" in body["error"]["fields"]


def test_a_friend_sets_a_method_and_requests_a_payout_through_the_api(client, paypal_friend):
    client.force_login(paypal_friend)
    put = client.put("/api/v1/payouts/method", {"kind": "venmo", "address": "@friend-relay"}, "application/json")
    assert put.status_code == 200 and put.json()["address"] == "friend-relay"
    made = client.post("/api/v1/payouts", {"amount": "25.00"}, "application/json")
    assert made.status_code == 201
    assert {k: made.json()[k] for k in ("amount", "method", "address", "status")} == {
        "amount": "25.00",
        "method": "venmo",
        "address": "friend-relay",
        "status": "requested",
    }
    _, body = get(client, "/api/v1/payouts")
    assert (body["balance"], body["pending"], body["available"], body["minimum"]) == (
        "100.00",
        "25.00",
        "75.00",
        "5.00",
    )
    assert [p["id"] for p in body["payouts"]] == [made.json()["id"]] and body["method"]["kind"] == "venmo"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"amount": "1000.00"}, 409, "insufficient_balance"),
        ({"amount": "1.00"}, 400, "below_minimum"),
        ({"amount": "ten"}, 400, "bad_amount"),
        ({"amount": "1e30"}, 400, "bad_amount"),
        ({"amount": "1E+999999"}, 400, "bad_amount"),
        ({}, 400, "invalid"),
        ({"amount": ["5"]}, 400, "invalid"),
    ],
)
def test_payout_requests_are_refused_with_a_clear_json_error(client, paypal_friend, body, status, code):
    client.force_login(paypal_friend)
    response = client.post("/api/v1/payouts", json.dumps(body), "application/json")
    assert response.status_code == status and response.json()["error"]["code"] == code


def test_a_bad_method_is_refused_and_no_method_is_a_404(client, friend):
    client.force_login(friend)
    assert client.get("/api/v1/payouts/method").status_code == 404
    bad = client.put("/api/v1/payouts/method", {"kind": "paypal", "address": "nope"}, "application/json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_address"
    assert client.post("/api/v1/payouts", {"amount": "5.00"}, "application/json").json()["error"]["code"] == "no_method"


# Who may see what: (url, anonymous, friend sees only their own)
PRIVATE = ["/api/v1/earnings", "/api/v1/leaderboard", "/api/v1/payouts", "/api/v1/payouts/method"]


@pytest.mark.parametrize("url", PRIVATE)
def test_the_money_api_needs_a_signed_in_friend(client, url):
    status, body = get(client, url)
    assert status == 403 and body["error"]["code"] == "not_authenticated"


def test_a_friend_never_sees_another_friends_payouts_or_earnings(client, paypal_friend, outsider, settled):
    services.request_payout(paypal_friend, "10.00")
    status, body = get(client, "/api/v1/payouts", outsider)
    assert (status, body["payouts"], body["method"], body["balance"]) == (200, [], None, "2.00")
    assert [n["name"] for n in get(client, "/api/v1/earnings", outsider)[1]["nodes"]] == ["theirs"]


def test_public_payouts_per_stream_keep_their_shape(client, settled):
    mine, theirs = settled
    status, body = get(client, "/payouts?hours_back=24")
    assert status == 200 and body["status"] == "success" and body["hours_back"] == 24
    alice = body["payouts"]["alice"]
    assert alice["individual_earnings"] == {str(mine.pk): "4.00", str(theirs.pk): "2.00"}
    assert (alice["total_pool"], alice["total_credited"], alice["hours_settled"]) == ("6.00", "6.00", 1)
    # No owner ever; anonymous callers get the node's id for its name (test_payouts_privacy.py).
    assert alice["nodes"][str(mine.pk)] == {"name": str(mine.pk), "amount": "4.00", "verified_minutes": 60}
    assert get(client, "/payouts?hours_back=1")[1]["payouts"] == {}  # the settled hour is two hours back
    status, body = get(client, "/payouts?hours_back=-3")
    assert status == 400 and body["error"]["code"] == "invalid"


def test_the_money_api_is_in_the_openapi_schema_without_warnings(client):
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=io.StringIO(), stderr=io.StringIO())
    schema = client.get("/api/schema/?format=json").json()
    for path in [*PRIVATE, "/payouts"]:
        assert path in schema["paths"], path
    assert set(schema["paths"]["/api/v1/payouts"]["post"]["responses"]) == {"201", "400", "403", "409", "429"}
