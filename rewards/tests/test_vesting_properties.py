"""Properties of settlement with vesting and clawback, over random histories of checks: every pool
is conserved to the cent, a credit is vested or clawed back at most once and never both, and a
friend's balance is exactly the vested plus the unvested credits."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodes import services as node_services
from rewards import services
from rewards.models import EntryKind, LedgerEntry, Settlement, Vesting
from rewards.tests.helpers import origin_alive, relayed
from streams import services as stream_services
from streams.models import Origin, StreamSession
from validation.models import Outcome, SpotCheck

HOUR = timedelta(hours=1)

# Per node: how many of the 3 hours it relayed, and its checks as (minutes after the first hour
# began, passed?) in any order.
checks = st.lists(st.tuples(st.integers(0, 5 * 60), st.booleans()), max_size=5)
nodes = st.lists(st.tuples(st.integers(1, 3), checks), min_size=1, max_size=3)  # NODE_MAX_PER_USER


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nodes=nodes, rate=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("50"), places=2))
def test_vesting_and_clawbacks_keep_every_cent_accounted_for(nodes, rate):
    with transaction.atomic():
        run_history(nodes, rate)
        transaction.set_rollback(True)  # each example starts from an empty database


def run_history(nodes, rate) -> None:
    from django.utils import timezone

    first = services.hour_start(timezone.now()) - 4 * HOUR
    friend = User.objects.create_user("friend-p")
    stream, key = stream_services.create_stream(owner=friend, slug="alice", reward_rate_per_hour=rate)
    stream_services.admit_publish(
        stream_services.PublishRequest(origin=Origin.SRS, app="live", slug="alice", key=key, client_id="c")
    )
    StreamSession.objects.update(started_at=first)
    origin_alive(stream, first, range(180))
    history = []
    for index, (hours, events) in enumerate(nodes):
        _, token = node_services.create_enrollment_token(friend)
        node, _ = node_services.register_node(token=token, name=f"n{index}", public_url=f"http://10.0.0.{index}:80")
        for hour in range(hours):
            relayed(node, stream, first + hour * HOUR, range(60))
        history += [(first + timedelta(minutes=at), passed, node) for at, passed in events]
    for hour in range(3):
        services.settle_hour(first + hour * HOUR)
    for at, passed, node in sorted(history, key=lambda event: (event[0], event[2].pk)):
        check = SpotCheck.objects.create(
            node=node, stream=stream, checked_at=at, outcome=Outcome.PASS if passed else Outcome.MISMATCH, latency_ms=1
        )
        if not passed:
            services.claw_back(check)
        services.vest_due(now=at)

    for settlement in Settlement.objects.all():
        credited = LedgerEntry.objects.filter(settlement=settlement, kind=EntryKind.CREDIT).aggregate(t=Sum("amount"))
        assert (credited["t"] or Decimal(0)) == (settlement.credited if settlement.nodes else Decimal(0))
        assert settlement.credited in (settlement.pool, Decimal(0))
    credits = LedgerEntry.objects.filter(kind=EntryKind.CREDIT)
    vested = set(Vesting.objects.values_list("credit_id", flat=True))
    clawed = dict(LedgerEntry.objects.filter(kind=EntryKind.CLAWBACK).values_list("reverses_id", "amount"))
    assert not vested & set(clawed)
    for credit in credits:
        if credit.pk in clawed:
            assert clawed[credit.pk] == -credit.amount
    account = services.account(friend.pk)
    kept = sum((c.amount for c in credits if c.pk not in clawed), Decimal(0))
    assert account.balance == kept
    assert account.vested == sum((c.amount for c in credits if c.pk in vested), Decimal(0))
    assert account.balance == account.vested + account.unvested
