"""Credits pay out only once verified: a later passing check vests them (or VESTING_HOURS without a
failure); a failed check claws back the node's unvested credits with new ledger entries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from nodes.models import Node
from rewards import services
from rewards.models import AppendOnlyError, EntryKind, LedgerEntry, Vesting
from rewards.tests.helpers import origin_alive, relayed
from streams.models import Stream
from validation import services as validation_services
from validation.models import FlagKind, FraudFlag, Outcome, SpotCheck
from validation.services import spotchecks

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


def check(node: Node, outcome: str, at) -> SpotCheck:
    return SpotCheck.objects.create(node=node, checked_at=at, outcome=outcome, latency_ms=5)


@pytest.fixture
def fail(django_capture_on_commit_callbacks):
    """A failed verdict now, through validation's own path: after commit it signals rewards."""

    def record(node: Node) -> SpotCheck:
        found = spotchecks.checks.Inspection(evidence={"reason": "test"})
        verdict = validation_services.Judgement(Outcome.MISMATCH, 0.0, 0, 0)
        stream = Stream.objects.get(slug="alice")
        with django_capture_on_commit_callbacks(execute=True):
            return spotchecks._record(node, stream, found, verdict, "test")

    return record


def test_a_fresh_credit_is_in_the_balance_but_not_payable(earned, friend):
    services.set_payout_method(friend, kind="paypal", address="friend@example.com")
    account = services.account(friend.pk)
    assert (account.balance, account.unvested, account.available) == (Decimal("6.00"), Decimal("6.00"), Decimal("0.00"))
    with pytest.raises(services.PayoutError) as refused:
        services.request_payout(friend, "5.00")
    assert refused.value.code == "insufficient_balance"


def test_a_later_passing_check_vests_the_credit(earned, friend, hour):
    check(earned, Outcome.PASS, hour + HOUR / 2)  # during the hour: does not cover it
    assert services.vest_due() == 0
    check(earned, Outcome.PASS, hour + HOUR + timedelta(minutes=3))
    assert services.vest_due() == 1 and services.vest_due() == 0
    assert services.account(friend.pk).available == Decimal("6.00")
    assert Vesting.objects.get().reason == "covered by a later pass"


def test_a_credit_vests_after_vesting_hours_without_a_failure(earned, friend, hour, settings):
    settings.VESTING_HOURS = 24
    assert services.vest_due(now=hour + HOUR + timedelta(hours=23)) == 0
    assert services.vest_due(now=hour + HOUR + timedelta(hours=24, minutes=1)) == 1
    assert services.account(friend.pk).unvested == Decimal("0.00")


def test_a_late_failure_claws_back_unvested_credits_with_new_entries(earned, friend, hour, fail):
    failed = fail(earned)
    clawback = LedgerEntry.objects.get(kind=EntryKind.CLAWBACK)
    assert (clawback.amount, clawback.reverses.node_id) == (Decimal("-6.00"), earned.pk)
    assert f"check {failed.pk}" in clawback.memo
    account = services.account(friend.pk)
    assert (account.balance, account.unvested, account.available) == (Decimal("0.00"), Decimal("0.00"), Decimal("0"))
    # The credit itself stands (append-only); it never vests now, even after a later pass.
    assert LedgerEntry.objects.filter(kind=EntryKind.CREDIT, amount=Decimal("6.00")).exists()
    check(earned, Outcome.PASS, hour + 3 * HOUR)
    assert services.vest_due() == 0
    with pytest.raises(AppendOnlyError):
        clawback.delete()


def test_a_failure_never_takes_back_what_vested(earned, friend, hour, fail):
    check(earned, Outcome.PASS, hour + HOUR + timedelta(minutes=3))
    services.vest_due()
    fail(earned)
    assert not LedgerEntry.objects.filter(kind=EntryKind.CLAWBACK).exists()
    assert services.account(friend.pk).available == Decimal("6.00")


def test_a_failure_takes_back_only_hours_after_the_last_pass(live_alice, register, hour, friend, fail):
    alice = live_alice(until=None)
    node, _ = register("den", user=friend)
    earlier = hour - HOUR
    relayed(node, alice, earlier, range(60))
    relayed(node, alice, hour, range(60))
    origin_alive(alice, earlier, range(60))
    services.settle_hour(earlier)
    services.settle_hour(hour)
    check(node, Outcome.PASS, hour + timedelta(minutes=1))  # covers the earlier hour only
    fail(node)
    taken = LedgerEntry.objects.get(kind=EntryKind.CLAWBACK).reverses
    assert taken.settlement.hour == hour
    assert services.vest_due() == 1  # the earlier hour's credit, covered by the pass


def test_payouts_wait_while_the_friend_has_open_fraud_flags(earned, friend, hour, admin_user):
    check(earned, Outcome.PASS, hour + HOUR + timedelta(minutes=3))
    services.vest_due()
    services.set_payout_method(friend, kind="paypal", address="friend@example.com")
    payout = services.request_payout(friend, "5.00")
    flag = FraudFlag.objects.create(node=earned, kind=FlagKind.SYBIL, detected_at=timezone.now(), evidence={})
    with pytest.raises(services.PayoutError) as refused:
        services.approve(payout, actor=admin_user)
    assert refused.value.code == "open_fraud_flags"
    FraudFlag.objects.filter(pk=flag.pk).update(resolved=True)
    assert services.approve(payout, actor=admin_user).status == "approved"


def test_a_credit_whose_clawback_was_lost_waits_instead_of_vesting(earned, friend, hour):
    # A confirmed failure after the hour whose clawback never ran (e.g. the worker crashed)...
    check(earned, "mismatch", hour + HOUR + timedelta(minutes=5))
    check(earned, Outcome.PASS, hour + HOUR + timedelta(minutes=30))  # ...then the cheat passes once
    assert services.vest_due(now=hour + 48 * HOUR) == 0
    assert services.account(friend.pk).available == Decimal("0.00")


def test_a_failure_inside_the_hour_was_settled_for_and_does_not_block_vesting(earned, friend, hour):
    SpotCheck.objects.create(node=earned, checked_at=hour + timedelta(minutes=10), outcome="stale", latency_ms=5)
    check(earned, Outcome.PASS, hour + HOUR + timedelta(minutes=3))
    assert services.vest_due() == 1
