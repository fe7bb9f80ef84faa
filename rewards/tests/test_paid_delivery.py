"""Pay rests on what the site verified: bytes viewers attest (never a node's own counters alone),
and one uptime share per machine, however many node identities run on it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nodes.models import Node
from rewards import services
from rewards.models import LedgerEntry
from rewards.tests.helpers import attested, origin_alive, relayed

pytestmark = pytest.mark.django_db


def credits() -> dict[str, Decimal]:
    return {e.node.name: e.amount for e in LedgerEntry.objects.select_related("node")}


def test_a_node_inflating_its_counters_earns_what_an_honest_one_does(live_alice, register, hour, settings):
    settings.SETTLEMENT_MINUTES_WEIGHT = Decimal("0.7")
    alice = live_alice(until=None)  # pool 6.00
    honest, _ = register("honest")
    inflating, _ = register("inflating")
    relayed(honest, alice, hour, range(60), bytes_per_minute=2_000_000)
    relayed(inflating, alice, hour, range(60), bytes_per_minute=3_750_000_000)  # 500 Mbit/s, under the clamps
    for node in (honest, inflating):  # the same viewers' worth of attested delivery each
        attested(node, alice, hour, range(60), bytes_per_minute=2_000_000)
    (settlement,) = services.settle_hour(hour)
    assert credits() == {"honest": Decimal("3.00"), "inflating": Decimal("3.00")}
    assert settlement.credited == settlement.pool == Decimal("6.00")


def test_claimed_bytes_nobody_attested_earn_nothing(live_alice, register, hour, settings):
    settings.SETTLEMENT_MINUTES_WEIGHT = Decimal("0.5")
    alice = live_alice(until=None)
    watched, _ = register("watched")
    claiming, _ = register("claiming")
    relayed(watched, alice, hour, range(60), bytes_per_minute=1_000_000)
    relayed(claiming, alice, hour, range(60), bytes_per_minute=9_000_000)
    attested(watched, alice, hour, range(60), bytes_per_minute=1_000_000)
    services.settle_hour(hour)
    # minutes: half each of 3.00; bytes: all 3.00 to the one with attested delivery
    assert credits() == {"watched": Decimal("4.50"), "claiming": Decimal("1.50")}


def test_attested_bytes_count_no_more_than_the_node_claimed(live_alice, register, hour, settings):
    settings.SETTLEMENT_MINUTES_WEIGHT = Decimal("0.5")
    alice = live_alice(until=None)
    modest, _ = register("modest")
    other, _ = register("other")
    relayed(modest, alice, hour, range(60), bytes_per_minute=1_000_000)
    relayed(other, alice, hour, range(60), bytes_per_minute=1_000_000)
    attested(modest, alice, hour, range(60), bytes_per_minute=3_000_000)  # reports beyond its own count
    attested(other, alice, hour, range(60), bytes_per_minute=1_000_000)
    services.settle_hour(hour)
    entries = {e.node.name: e for e in LedgerEntry.objects.select_related("node")}
    assert entries["modest"].bytes_served == 60_000_000  # capped at its claim
    assert {name: e.amount for name, e in entries.items()} == {"modest": Decimal("3.00"), "other": Decimal("3.00")}


def test_nodes_behind_one_address_share_one_uptime_share(live_alice, register, hour):
    alice = live_alice(until=None)  # pool 6.00, all by minutes (nobody attested bytes)
    honest, _ = register("honest", public_url="http://198.51.100.20:8090")
    sybils = [register(f"sybil{i}", public_url=f"http://203.0.113.7:{8100 + i}")[0] for i in range(10)]
    for node in (honest, *sybils):
        relayed(node, alice, hour, range(60))
    services.settle_hour(hour)
    found = credits()
    assert found["honest"] == Decimal("3.00")
    assert sum(found[f"sybil{i}"] for i in range(10)) == Decimal("3.00")
    assert set(found[f"sybil{i}"] for i in range(10)) == {Decimal("0.30")}


def test_names_that_resolve_to_one_address_are_one_machine(live_alice, register, hour):
    alice = live_alice(until=None)
    honest, _ = register("honest")
    first, _ = register("first")
    second, _ = register("second")
    Node.objects.filter(pk__in=[first.pk, second.pk]).update(endpoint="203.0.113.7")  # as the checker resolved
    for node in (honest, first, second):
        relayed(node, alice, hour, range(60))
    services.settle_hour(hour)
    assert credits() == {"honest": Decimal("3.00"), "first": Decimal("1.50"), "second": Decimal("1.50")}


def test_a_minute_only_one_of_a_machines_nodes_relayed_is_its_alone(live_alice, register, hour):
    alice = live_alice(until=None)
    honest, _ = register("honest", public_url="http://198.51.100.20:8090")
    early, _ = register("early", public_url="http://203.0.113.7:8100")
    late, _ = register("late", public_url="http://203.0.113.7:8101")
    relayed(honest, alice, hour, range(60))
    relayed(early, alice, hour, range(0, 40))  # minutes 20-39 are shared with late
    relayed(late, alice, hour, range(20, 60))
    services.settle_hour(hour)
    # The machine relayed each of the 60 minutes, as the honest node did: half the pool each.
    # early: 20 minutes alone + 20 shared halves = 30; late likewise.
    assert credits() == {"honest": Decimal("3.00"), "early": Decimal("1.50"), "late": Decimal("1.50")}


def test_minutes_the_origin_was_not_seen_alive_pay_nobody(live_alice, register, hour):
    alice = live_alice(until=None, alive=False)  # the session stayed open: the origin died silently
    origin_alive(alice, hour, range(20))  # its hooks and samples stopped after 20 minutes
    node, _ = register("den")
    relayed(node, alice, hour, range(60))  # the node kept "relaying" (a frozen window) all hour
    (settlement,) = services.settle_hour(hour)
    assert (settlement.live_seconds, settlement.pool) == (1200, Decimal("2.00"))
    entry = LedgerEntry.objects.get()
    assert (entry.amount, entry.minutes) == (Decimal("2.00"), 20)


def test_an_hour_whose_origin_was_never_seen_alive_has_no_pool(live_alice, register, hour):
    alice = live_alice(until=None, alive=False)
    node, _ = register("den")
    relayed(node, alice, hour, range(60))
    (settlement,) = services.settle_hour(hour)
    assert (settlement.pool, settlement.credited) == (Decimal("0.00"), Decimal("0"))
    assert not LedgerEntry.objects.exists()
