"""Public /payouts (issue 17, point 7): anonymous callers see node ids, amounts and minutes, never
node names (nor owners or URLs); signed-in friends see names. The keys stay what tools read."""

from __future__ import annotations

import pytest

from rewards import services
from rewards.tests.helpers import relayed

pytestmark = pytest.mark.django_db


@pytest.fixture
def settled(live_alice, register, hour, friend, outsider):
    """alice live the whole hour (pool 6.00): friend's node relayed 60 minutes, outsider's 30."""
    alice = live_alice(until=None)
    mine, _ = register("alices-flat-den", user=friend, public_url="http://home.friend.example:8090")
    theirs, _ = register("outsiders-attic", user=outsider)
    relayed(mine, alice, hour, range(60))
    relayed(theirs, alice, hour, range(30))
    services.settle_hour(hour)
    return mine, theirs


def test_anonymous_callers_see_node_ids_and_amounts_but_no_names(client, settled):
    mine, theirs = settled
    response = client.get("/payouts?hours_back=24")
    text = response.content.decode()
    for secret in ("alices-flat-den", "outsiders-attic", "home.friend.example", "friend", "outsider"):
        assert secret not in text, secret
    alice = response.json()["payouts"]["alice"]
    assert alice["individual_earnings"] == {str(mine.pk): "4.00", str(theirs.pk): "2.00"}
    assert alice["nodes"][str(mine.pk)] == {"name": str(mine.pk), "amount": "4.00", "verified_minutes": 60}


def test_signed_in_friends_see_node_names_in_the_same_shape(client, settled, outsider):
    mine, theirs = settled
    anonymous = client.get("/payouts?hours_back=24").json()
    client.force_login(outsider)
    signed_in = client.get("/payouts?hours_back=24").json()
    alice = signed_in["payouts"]["alice"]
    assert alice["nodes"][str(mine.pk)]["name"] == "alices-flat-den"
    assert alice["nodes"][str(theirs.pk)]["name"] == "outsiders-attic"
    assert set(signed_in) == set(anonymous) and set(alice) == set(anonymous["payouts"]["alice"])
    assert "home.friend.example" not in str(signed_in)  # public URLs never, and never an owner
    assert "friend" not in str(alice["nodes"][str(mine.pk)])
