"""Hours left unsettled for days (the worker was down, a job kept failing) are settled by the
scheduled task however old, exactly once; the search for them is bounded by the minutes kept."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from nodes.models import NodeMinute
from rewards import services, tasks
from rewards.models import LedgerEntry, Settlement
from rewards.tests.helpers import origin_alive, relayed
from streams.models import Origin, OriginMinute, StreamSession

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture
def hour():
    """A closed hour three days ago (overrides the rewards fixture)."""
    return services.hour_start(timezone.now()) - 3 * DAY


def test_an_hour_three_days_old_is_settled_by_the_scheduled_task_once(live_alice, register, friend, hour):
    alice = live_alice(until=None)  # live from 10 minutes before the hour, on ever since
    StreamSession.objects.update(ended_at=hour + HOUR)
    node, _ = register("den", user=friend)
    relayed(node, alice, hour, range(60))
    assert tasks.settle_due_hours() >= 1
    settlement = Settlement.objects.get(stream=alice, hour=hour)
    assert (settlement.pool, settlement.credited) == (Decimal("6.00"), Decimal("6.00"))
    assert services.balance(friend.pk) == Decimal("6.00")
    assert tasks.settle_due_hours() == 0  # a second run credits nothing again
    assert LedgerEntry.objects.filter(node=node).count() == 1
    assert services.balance(friend.pk) == Decimal("6.00")
    # The ten minutes before the hour were settled too (an hour earlier), each once.
    assert list(Settlement.objects.order_by("hour").values_list("hour", flat=True)) == [hour - HOUR, hour]


def test_a_month_old_unsettled_hour_is_settled_while_settled_hours_are_left_alone(live_alice, register, friend, hour):
    alice = live_alice(until=None)
    node, _ = register("den", user=friend)
    old = hour - 30 * DAY
    StreamSession.objects.update(ended_at=hour + HOUR)
    StreamSession.objects.create(stream=alice, origin=Origin.SRS, client_id="old", started_at=old, ended_at=old + HOUR)
    relayed(node, alice, old, range(30))
    origin_alive(alice, old, range(60))
    relayed(node, alice, hour, range(60))
    services.settle_stream_hour(alice, hour)  # settled on time, before the late run
    done = services.settle_due()
    assert [(s.hour, s.credited) for s in done] == [(old, Decimal("6.00")), (hour - HOUR, Decimal("0.00"))]
    assert LedgerEntry.objects.filter(settlement__hour=hour).count() == 1
    assert services.settle_due() == []


def test_hours_older_than_every_kept_minute_are_not_searched(live_alice, hour):
    """A stream live for a year and never settled, its minutes long pruned: what is left to
    settle is bounded by the minutes kept (here the last day), not by the year."""
    alice = live_alice(until=None)
    StreamSession.objects.update(started_at=hour - 365 * DAY, ended_at=None)
    NodeMinute.objects.all().delete()
    OriginMinute.objects.all().delete()
    done = services.settle_due()
    assert len(done) == 24 and min(s.hour for s in done) > hour  # the last day's hours only
    assert {s.stream_id for s in done} == {alice.pk} and not any(s.pool for s in done)  # nothing vouched


def test_a_run_that_runs_out_of_time_leaves_the_rest_to_the_next_run(live_alice, register, friend, hour):
    alice = live_alice(until=None)
    StreamSession.objects.update(ended_at=hour + HOUR)
    node, _ = register("den", user=friend)
    relayed(node, alice, hour, range(60))
    assert services.settle_due(budget_seconds=0) == []
    assert [s.hour for s in services.settle_due()] == [hour - HOUR, hour]
    assert services.balance(friend.pk) == Decimal("6.00")
