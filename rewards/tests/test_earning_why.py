"""Why a node earns or not: each reason in the order a friend would fix them, and "earning" only
for a node settlement then credits."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db.models import Sum

from nodes.models import Approval, Node
from rewards import services
from rewards.models import EntryKind, LedgerEntry, Settlement, Vesting
from rewards.services import earning
from rewards.tests.helpers import relayed
from validation.models import Outcome, ReachabilityProbe, ReachabilityVerdict, SpotCheck

pytestmark = pytest.mark.django_db
MIN = timedelta(minutes=1)


def at(hour: datetime, minutes: int) -> datetime:
    return hour + minutes * MIN


def why(node: Node, now: datetime) -> earning.Earning:
    cache.clear()  # the splits are kept a few seconds (estimate.CACHE_SECONDS); the data just changed
    node.refresh_from_db()
    return earning.why_not([node], now=now)[node.pk]


def state(node: Node, **fields: object) -> None:
    Node.objects.filter(pk=node.pk).update(**fields)


def online_at(moment: datetime) -> dict[str, object]:
    return {"last_seen_at": moment - MIN, "stale_after": moment + MIN, "offline_after": moment + 5 * MIN}


def test_names_the_first_reason_of_each_in_the_order_a_friend_would_fix_them(live_alice, register, hour, friend):
    now = at(hour, 30)
    node, _ = register("den")
    state(node, approval=Approval.PENDING, created_at=hour - timedelta(days=1))
    SpotCheck.objects.create(node=node, checked_at=at(hour, 10), outcome=Outcome.STALE, latency_ms=5)
    ReachabilityProbe.objects.create(
        node=node, checked_at=at(hour, 1), url="http://den.example:8090/healthz", ok=False,
        verdict=ReachabilityVerdict.REFUSED, detail="Nothing accepted the connection at den.example:8090.",
    )  # fmt: skip
    relayed_before_the_failed_check = range(0, 10)

    found = why(node, now)
    assert (found.ok, found.reason) == (False, "not_approved") and "approve" in found.why

    state(node, approval=Approval.SUSPENDED)
    found = why(node, now)
    assert found.reason == "suspended" and "stale (old frames) at" in found.why  # the evidence

    state(node, approval=Approval.APPROVED)
    assert why(node, now).reason == "no_live_stream"

    alice = live_alice(until=None)  # live from 10 minutes before the hour, on
    found = why(node, now)
    assert found.reason == "no_assignment" and "Is the agent running?" in found.why  # it never beat

    state(node, assigned_stream=alice)
    found = why(node, now)
    assert found.reason == "unreachable" and "Nothing accepted the connection" in found.why

    ReachabilityProbe.objects.create(
        node=node, checked_at=at(hour, 2), url="http://den.example:8090/healthz", ok=True,
        verdict=ReachabilityVerdict.OK, detail="Reachable.",
    )  # fmt: skip
    state(node, last_seen_at=at(hour, 20), relay_running=False, relaying_slug="alice")
    found = why(node, now)
    assert found.reason == "relay_unhealthy" and "not running" in found.why

    state(node, relay_running=True, newest_segment_age=45.0)  # three intervals are 30 s
    assert "45 s old" in why(node, now).why

    state(node, newest_segment_age=1.5, stale_after=at(hour, 20), offline_after=at(hour, 25))
    found = why(node, now)
    assert found.reason == "stale_heartbeats" and "since" in found.why

    state(node, **online_at(now))
    relayed(node, alice, hour, relayed_before_the_failed_check)
    found = why(node, now)
    assert (found.ok, found.reason) == (False, "voided_by_failed_check") and "stale (old frames)" in found.why

    SpotCheck.objects.create(node=node, checked_at=at(hour, 12), outcome=Outcome.PASS, latency_ms=5)
    relayed(node, alice, hour, range(13, 30))  # after the failed check: counted again
    found = why(node, now)
    assert (found.ok, found.reason) == (True, "earning") and "so far this hour" in found.why

    earlier = Settlement.objects.create(stream=alice, hour=hour - 5 * timedelta(hours=1), live_seconds=3600,
                                        pool=Decimal("1.00"), credited=Decimal("1.00"), nodes=1)  # fmt: skip
    credit = LedgerEntry.objects.create(
        user=friend, kind=EntryKind.CREDIT, amount=Decimal("1.00"), settlement=earlier, node=node, stream=alice
    )
    found = why(node, now)
    assert (found.ok, found.reason) == (True, "not_vested") and "1.00" in found.why and "not payable yet" in found.why

    Vesting.objects.create(credit=credit, reason="covered by a later pass")
    assert why(node, now).reason == "earning"


def test_a_node_shown_earning_is_one_settlement_credits_and_one_not_earning_is_not(live_alice, register, hour):
    alice = live_alice(until=None)
    now = at(hour, 40)
    earns, _ = register("earns")
    wrong_stream, _ = register("wrong")
    for node in (earns, wrong_stream):
        state(node, assigned_stream=alice, relay_running=True, newest_segment_age=2.0, relaying_slug="alice",
              **online_at(now))  # fmt: skip
    relayed(earns, alice, hour, range(40))
    state(wrong_stream, relaying_slug="bob")  # its buckets carry no stream: settlement pays nothing
    verdicts = earning.why_not(list(Node.objects.all()), now=now)
    assert verdicts[earns.pk].ok and not verdicts[wrong_stream.pk].ok
    assert verdicts[wrong_stream.pk].reason == "relay_unhealthy" and "assigned alice" in verdicts[wrong_stream.pk].why

    services.settle_hour(hour)
    credited = dict(LedgerEntry.objects.values("node_id").annotate(total=Sum("amount")).values_list("node_id", "total"))
    assert set(credited) == {earns.pk} and credited[earns.pk] > 0


def test_a_node_not_counted_by_the_split_is_not_shown_earning_even_when_its_state_looks_fine(
    live_alice, register, hour
):
    stream = live_alice(until=None, alive=False)  # the origin never showed it alive: nothing pays
    now = at(hour, 20)
    node, _ = register("den")
    state(node, assigned_stream=stream, relay_running=True, newest_segment_age=2.0, relaying_slug="alice",
          **online_at(now))  # fmt: skip
    relayed(node, stream, hour, range(20))
    found = why(node, now)
    assert (found.ok, found.reason) == (False, "no_live_stream") and "origin has not shown alice alive" in found.why


def test_history_tells_each_hour_what_it_earned_or_why_not_newest_first(live_alice, register, hour, client, friend):
    alice = live_alice(until=timedelta(minutes=30))
    node, _ = register("den")
    state(node, created_at=hour - timedelta(hours=3))
    relayed(node, alice, hour, range(30))
    services.settle_hour(hour)
    node.refresh_from_db()
    verdicts = earning.history(node, 6)
    assert [v.hour for v in verdicts] == sorted((v.hour for v in verdicts), reverse=True)
    assert verdicts[0].hour == services.hour_start(verdicts[0].hour) and len(verdicts) == 6
    by_hour = {v.hour: v for v in verdicts}
    assert by_hour[hour].ok and by_hour[hour].earned == Decimal("3.00") and "30 verified minutes" in by_hour[hour].why
    before = by_hour[hour - timedelta(hours=1)]  # alice went live 10 minutes before the hour; the node sent nothing
    assert (before.ok, before.earned) == (False, Decimal("0.00")) and "no heartbeat" in before.why.lower()
    assert "No stream was live." in by_hour[hour - timedelta(hours=2)].why


def test_history_names_the_failed_check_that_voided_an_hours_minutes(live_alice, register, hour):
    alice = live_alice(until=timedelta(minutes=30))
    node, _ = register("den")
    state(node, created_at=hour - timedelta(hours=3))
    SpotCheck.objects.create(node=node, checked_at=at(hour, 5), outcome=Outcome.PASS, latency_ms=5)
    SpotCheck.objects.create(node=node, checked_at=at(hour, 40), outcome=Outcome.MISMATCH, latency_ms=5)
    relayed(node, alice, hour, range(10, 30))  # all after the pass at :05, before the failure at :40
    services.settle_hour(hour)
    assert not LedgerEntry.objects.filter(node=node).exists()
    node.refresh_from_db()
    verdict = {v.hour: v for v in earning.history(node, 3)}[hour]
    assert (verdict.ok, verdict.earned) == (False, Decimal("0.00"))
    assert "voided by a failed spot-check (mismatch (not this stream) at" in verdict.why
