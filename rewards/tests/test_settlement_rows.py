"""Settlement writes its credits without model instances (COPY on PostgreSQL) and sums buckets in
hand-joined SQL: the rows and totals must be exactly those the ORM wrote and summed before."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum

from nodes import services as node_services
from nodes.models import Approval, Node, NodeMinute
from rewards import services
from rewards.models import EntryKind, LedgerEntry, Settlement
from rewards.services.ledger_writes import node_totals, write_credits
from rewards.split import split_pool
from rewards.tests.helpers import attested, relayed
from validation.models import Outcome, SpotCheck

pytestmark = pytest.mark.django_db

COLUMNS = [f.attname for f in LedgerEntry._meta.concrete_fields if f.name not in ("id", "created_at")]


@pytest.fixture
def busy_hour(live_alice, register, hour, friend, outsider):
    """An hour with every kind of contribution: plain, two nodes behind one address, viewer-attested
    bytes, a failed check mid-hour, a suspended node, a second friend, a bucket of the next hour."""
    alice = live_alice(until=None)
    plain, _ = register("plain")
    other, _ = register("other", user=outsider)
    twin_a, _ = register("twin-a", public_url="http://10.0.0.9:8090")
    twin_b, _ = register("twin-b", public_url="http://10.0.0.9:8091")
    viewed, _ = register("viewed")
    cheat, _ = register("cheat")
    suspended, _ = register("suspended")
    relayed(plain, alice, hour, range(60), bytes_per_minute=1_234_567)
    relayed(other, alice, hour, range(7, 44), bytes_per_minute=2_000_001)
    relayed(twin_a, alice, hour, range(0, 40))
    relayed(twin_b, alice, hour, range(20, 60))
    relayed(viewed, alice, hour, range(60), bytes_per_minute=3_000_000)
    attested(viewed, alice, hour, range(10, 50), bytes_per_minute=2_500_000)
    relayed(cheat, alice, hour, range(60))
    relayed(suspended, alice, hour, range(60))
    relayed(plain, alice, hour + timedelta(hours=1), range(5))  # the next hour: not this one's
    NodeMinute.objects.filter(node=other, minute=hour + timedelta(minutes=9)).update(healthy_heartbeats=0)
    node_services.suspend(Node.objects.filter(pk=suspended.pk))
    SpotCheck.objects.create(node=cheat, checked_at=hour + timedelta(minutes=20), outcome=Outcome.PASS, latency_ms=1)
    SpotCheck.objects.create(node=cheat, checked_at=hour + timedelta(minutes=50), outcome=Outcome.STALE, latency_ms=1)
    return alice


def _stored(settlement: Settlement) -> list[tuple[object, ...]]:
    """The settlement's credits as the database holds them, in the order they were written."""
    return list(LedgerEntry.objects.filter(settlement=settlement).order_by("pk").values_list(*COLUMNS))


def test_settlement_writes_the_same_ledger_rows_the_orm_would_for_every_kind_of_contribution(busy_hour, hour, settings):
    settings.SETTLEMENT_MINUTES_WEIGHT = Decimal("0.6")
    found = services.contributions(busy_hour, hour)
    shares = split_pool(Decimal("6.00"), services.weights(found))
    by_node = {c.node_id: c for c in found}
    (settlement,) = services.settle_hour(hour)
    # What settle_stream_hour built and bulk_create'd before: one model instance per credit.
    expected = [
        LedgerEntry(
            user_id=by_node[node_id].user_id,
            kind=EntryKind.CREDIT,
            amount=amount,
            settlement=settlement,
            node_id=node_id,
            stream=busy_hour,
            memo=f"alice {hour:%Y-%m-%d %H:00} UTC",
            minutes=by_node[node_id].minutes,
            bytes_served=by_node[node_id].bytes_served,
        )
        for node_id, amount in sorted(shares.items())
    ]
    assert len(expected) == 6  # all but the suspended node
    assert _stored(settlement) == [tuple(getattr(e, column) for column in COLUMNS) for e in expected]
    entries = list(LedgerEntry.objects.filter(settlement=settlement))
    assert all(e.amount.as_tuple().exponent == -2 for e in entries)  # cents, as the ORM stored them
    assert len({e.created_at for e in entries}) == 1 and entries[0].created_at >= settlement.settled_at
    assert sum(e.amount for e in entries) == settlement.pool == settlement.credited == Decimal("6.00")
    assert services.settle_hour(hour) == [] and LedgerEntry.objects.count() == len(expected)


def test_the_per_node_totals_are_those_of_the_orm_aggregate_they_replace(busy_hour, hour):
    buckets = NodeMinute.objects.filter(
        stream=busy_hour, minute__gte=hour, minute__lt=hour + timedelta(hours=1), healthy_heartbeats__gt=0
    )
    before = (
        buckets.exclude(node__approval=Approval.SUSPENDED)
        .values_list("node_id", "node__owner_id", "node__endpoint", "node__public_url")
        .annotate(n=Count("pk"), sent=Sum("bytes_served"))
    )
    assert len(before) == 6
    assert sorted(node_totals(buckets)) == sorted((*row[:5], int(row[5])) for row in before)
    assert node_totals(buckets.none()) == []


def test_a_second_credit_for_a_node_in_one_settlement_is_refused_as_an_integrity_error(busy_hour, hour):
    (settlement,) = services.settle_hour(hour)
    entry = LedgerEntry.objects.filter(settlement=settlement).first()
    assert entry is not None
    credit = (entry.user_id, entry.node_id, Decimal("0.01"), 1, 0)
    with pytest.raises(IntegrityError), transaction.atomic():
        write_credits(settlement.pk, busy_hour.pk, "again", [credit])
    assert LedgerEntry.objects.filter(settlement=settlement).count() == 6
