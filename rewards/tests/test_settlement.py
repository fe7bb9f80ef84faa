"""Hourly settlement: pool by live time, split by verified contribution, credited once."""

from __future__ import annotations

import io
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from nodes import services as node_services
from nodes.models import Node, NodeMinute
from rewards import services
from rewards.models import AppendOnlyError, LedgerEntry, Settlement
from rewards.tests.helpers import attested, relayed
from validation.models import Outcome, SpotCheck

HOUR = timedelta(hours=1)


pytestmark = pytest.mark.django_db


def test_the_pool_follows_live_time_and_credits_add_up_to_it(live_alice, register, hour, friend):
    alice = live_alice()
    first, _ = register("first")
    second, _ = register("second")
    relayed(first, alice, hour, range(30))
    relayed(second, alice, hour, range(15))
    (settlement,) = services.settle_hour(hour)
    assert (settlement.live_seconds, settlement.pool) == (1800, Decimal("3.00"))  # half an hour at 6.00
    credits = {e.node_id: e.amount for e in LedgerEntry.objects.filter(settlement=settlement)}
    assert sum(credits.values()) == settlement.pool == settlement.credited
    # minutes 30:15 (no viewer attested bytes), so 2/3 and 1/3 of the pool
    assert credits == {first.pk: Decimal("2.00"), second.pk: Decimal("1.00")}
    assert services.balance(friend.pk) == Decimal("3.00")


def test_viewer_attested_bytes_weigh_in_beside_minutes(live_alice, register, hour, settings):
    settings.SETTLEMENT_MINUTES_WEIGHT = Decimal("0.5")
    alice = live_alice(until=None)  # live the whole hour: pool 6.00
    busy, _ = register("busy")
    idle, _ = register("idle")
    relayed(busy, alice, hour, range(60), bytes_per_minute=3_000_000)
    relayed(idle, alice, hour, range(60), bytes_per_minute=1_000_000)
    attested(busy, alice, hour, range(60), bytes_per_minute=3_000_000)
    attested(idle, alice, hour, range(60), bytes_per_minute=1_000_000)
    services.settle_hour(hour)
    credits = {e.node.name: e.amount for e in LedgerEntry.objects.select_related("node")}
    assert credits == {"busy": Decimal("3.75"), "idle": Decimal("2.25")}  # 0.5·½ + 0.5·¾ of 6.00


def test_suspended_nodes_and_minutes_before_a_failed_check_earn_nothing(live_alice, register, hour):
    alice = live_alice(until=None)
    honest, _ = register("honest")
    suspended, _ = register("suspended")
    cheat, _ = register("cheat")
    for node in (honest, suspended, cheat):
        relayed(node, alice, hour, range(60))
    node_services.suspend(Node.objects.filter(pk=suspended.pk))
    SpotCheck.objects.create(node=cheat, checked_at=hour + timedelta(minutes=20), outcome=Outcome.PASS, latency_ms=1)
    SpotCheck.objects.create(node=cheat, checked_at=hour + timedelta(minutes=50), outcome=Outcome.STALE, latency_ms=1)
    services.settle_hour(hour)
    credits = {e.node.name: e.amount for e in LedgerEntry.objects.select_related("node")}
    # cheat keeps minutes 0-19 and 50-59 (30 minutes), honest has 60: 2/3 and 1/3 of 6.00
    assert credits == {"honest": Decimal("4.00"), "cheat": Decimal("2.00")}


def test_settling_twice_credits_once_and_late_heartbeats_change_nothing(live_alice, register, hour):
    alice = live_alice()
    node, _ = register()
    relayed(node, alice, hour, range(30))
    assert len(services.settle_hour(hour)) == 1
    NodeMinute.objects.filter(node=node, minute=hour).update(bytes_served=10**9)  # a late heartbeat
    assert services.settle_hour(hour) == []
    assert LedgerEntry.objects.count() == 1 and LedgerEntry.objects.get().amount == Decimal("3.00")


def test_an_open_hour_is_not_settled(live_alice):
    live_alice()
    with pytest.raises(services.SettlementError, match="not ended"):
        services.settle_hour(timezone.now())


def test_a_stream_hour_nobody_relayed_is_settled_with_nothing_credited(live_alice, hour):
    live_alice()
    (settlement,) = services.settle_hour(hour)
    assert (settlement.pool, settlement.credited, settlement.nodes) == (Decimal("3.00"), Decimal("0"), 0)


def test_the_ledger_is_append_only(live_alice, register, hour):
    alice = live_alice()
    node, _ = register()
    relayed(node, alice, hour, range(30))
    services.settle_hour(hour)
    entry = LedgerEntry.objects.get()
    with pytest.raises(AppendOnlyError):
        LedgerEntry.objects.update(amount=Decimal("1000"))
    with pytest.raises(AppendOnlyError):
        LedgerEntry.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    entry.amount = Decimal("1000")
    with pytest.raises(AppendOnlyError):
        entry.save()
    assert LedgerEntry.objects.get().amount == Decimal("3.00")


def test_the_command_settles_an_hour_and_refuses_bad_input(live_alice, register, hour):
    alice = live_alice()
    node, _ = register()
    relayed(node, alice, hour, range(30))
    out = io.StringIO()
    call_command("settle", "--hour", hour.isoformat(), stdout=out)
    assert "alice" in out.getvalue() and "pool 3.00, credited 3.00 to 1 node(s)" in out.getvalue()
    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("settle", "--hour", "yesterday", stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_two_workers_settling_at_once_credit_once(live_alice, register, hour):
    alice = live_alice()
    node, _ = register()
    relayed(node, alice, hour, range(30))
    barrier = threading.Barrier(4)
    results: list[int] = []

    def settle() -> None:
        try:
            barrier.wait()
            results.append(len(services.settle_hour(hour)))
        finally:
            connection.close()

    threads = [threading.Thread(target=settle) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [0, 0, 0, 1]
    assert Settlement.objects.count() == 1 and LedgerEntry.objects.count() == 1


def test_the_admin_lists_settlements_and_entries_but_cannot_change_them(client, admin_user, live_alice, register, hour):
    alice = live_alice()
    node, _ = register()
    relayed(node, alice, hour, range(30))
    services.settle_hour(hour)
    client.force_login(admin_user)
    assert client.get("/admin/rewards/settlement/").status_code == 200
    page = client.get("/admin/rewards/ledgerentry/?kind=credit")
    assert page.status_code == 200 and "3.00" in page.content.decode()
    entry = LedgerEntry.objects.get()
    assert client.post(f"/admin/rewards/ledgerentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert LedgerEntry.objects.count() == 1


def test_the_schedule_settles_every_closed_hour_of_the_last_day_once(live_alice, register, hour):
    alice = live_alice(until=timedelta(hours=1, minutes=30))  # live into the next hour too
    node, _ = register()
    relayed(node, alice, hour, range(60))
    done = services.settle_due(now=hour + 2 * HOUR + timedelta(minutes=5))  # grace passed for hour + 1
    assert [s.hour for s in done] == [hour - HOUR, hour, hour + HOUR]  # from 10 min before to 1h30 after
    assert services.settle_due(now=hour + 2 * HOUR + timedelta(minutes=5)) == []


def test_settlement_is_scheduled(db):
    from django_q.models import Schedule

    assert Schedule.objects.get(name="rewards: settle closed hours").func == "rewards.tasks.settle_due_hours"
