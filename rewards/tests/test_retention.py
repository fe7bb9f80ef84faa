"""The hourly retention job: once an hour is settled and older than RETENTION_DAYS its minute
buckets, origin minutes and attested minutes go; an unsettled hour's stay however old; the ledger,
settlements, vestings, payouts and the audit log are never touched; checks an unvested credit
depends on stay."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_q.models import Schedule

from nodes.models import NodeMinute
from rewards import services, tasks
from rewards.models import AuditEntry, LedgerEntry, Settlement, Vesting
from rewards.services.retention import prune_expired
from rewards.tests.helpers import attested, origin_alive, relayed
from streams.models import OriginMinute, StreamSession
from validation.models import AttestedMinute, Outcome, SpotCheck

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture
def hour():
    """A closed hour a month ago (overrides the rewards fixture: everything below happened then)."""
    return services.hour_start(timezone.now()) - 30 * DAY


def in_hour(model, start):
    return model.objects.filter(minute__gte=start, minute__lt=start + HOUR)


def test_prunes_minute_buckets_of_settled_hours_past_retention(earned, hour):
    attested(earned, earned.minutes.first().stream, hour, range(60), 1000)
    relayed(earned, earned.minutes.first().stream, services.hour_start(timezone.now()) - HOUR, range(60))
    counts = prune_expired()
    assert counts["node_minutes"] == 60 and counts["attested_minutes"] == 60
    assert not in_hour(NodeMinute, hour).exists() and not in_hour(AttestedMinute, hour).exists()
    assert not in_hour(OriginMinute, hour).exists()
    assert NodeMinute.objects.count() == 60  # the last hour's stay


def test_keeps_buckets_of_an_unsettled_hour_however_old(live_alice, register, friend, hour):
    alice = live_alice(until=None)
    node, _ = register("den", user=friend)
    long_ago = hour - 300 * DAY
    StreamSession.objects.update(started_at=long_ago - 10 * HOUR)  # live ever since, never settled
    relayed(node, alice, long_ago, range(60))
    origin_alive(alice, long_ago, range(60))
    prune_expired()
    assert in_hour(NodeMinute, long_ago).count() == 60 and in_hour(OriginMinute, long_ago).count() == 60
    # so it can still be settled late, exactly as it would have been
    settlement = services.settle_stream_hour(alice, long_ago)
    assert settlement is not None and settlement.credited == Decimal("6.00")
    assert prune_expired()["node_minutes"] == 60  # settled now: it goes


def test_keeps_the_origin_minutes_of_the_unsettled_hour_before_a_settled_one(earned, hour):
    # live_alice went live ten minutes before the settled hour: that hour is not settled yet
    prune_expired()
    assert in_hour(OriginMinute, hour - HOUR).count() == 10
    assert not in_hour(OriginMinute, hour).exists()


def test_prunes_buckets_of_an_hour_in_which_the_stream_was_not_live(earned, hour):
    stream = earned.minutes.first().stream
    StreamSession.objects.update(ended_at=hour + HOUR)
    relayed(earned, stream, hour + 5 * HOUR, range(30))  # a node still relaying after the session ended
    assert prune_expired()["node_minutes"] == 90


def test_never_prunes_the_ledger_settlements_vestings_or_audit_log(earned, hour, give, friend):
    give(friend, "10.00")
    SpotCheck.objects.create(node=earned, checked_at=hour + 2 * HOUR, outcome=Outcome.PASS, latency_ms=5)
    SpotCheck.objects.create(node=earned, checked_at=timezone.now(), outcome=Outcome.PASS, latency_ms=5)
    assert services.vest_due() == 1
    before = [m.objects.count() for m in (LedgerEntry, Settlement, Vesting, AuditEntry)]
    prune_expired()
    assert [m.objects.count() for m in (LedgerEntry, Settlement, Vesting, AuditEntry)] == before
    assert services.balance(friend.pk) == Decimal("16.00")


def test_keeps_the_checks_an_unvested_credit_still_depends_on(earned, hour, settings):
    settings.SPOT_CHECK_FAILURE_RETENTION_DAYS = settings.RETENTION_DAYS
    # a confirmed failure after the hour whose clawback was lost (a crashed worker), then passes:
    # the credit must keep waiting, so pruning may not make that failure disappear
    SpotCheck.objects.create(node=earned, checked_at=hour + 2 * HOUR, outcome=Outcome.MISMATCH, latency_ms=5)
    SpotCheck.objects.create(node=earned, checked_at=hour + 3 * HOUR, outcome=Outcome.PASS, latency_ms=5)
    SpotCheck.objects.create(node=earned, checked_at=timezone.now(), outcome=Outcome.PASS, latency_ms=5)
    assert services.vest_due() == 0
    assert prune_expired()["spot_checks"] == 0
    assert services.vest_due() == 0 and services.unvested(earned.owner_id) == Decimal("6.00")


def test_prunes_old_checks_once_the_node_has_nothing_unvested(earned, hour):
    SpotCheck.objects.create(node=earned, checked_at=hour + 2 * HOUR, outcome=Outcome.PASS, latency_ms=5)
    SpotCheck.objects.create(node=earned, checked_at=timezone.now(), outcome=Outcome.PASS, latency_ms=5)
    assert services.vest_due() == 1
    assert prune_expired()["spot_checks"] == 1
    assert SpotCheck.objects.count() == 1


def test_a_second_run_prunes_nothing(earned, hour, caplog):
    with caplog.at_level(logging.INFO, logger="rewards.services.retention"):
        assert prune_expired()["node_minutes"] == 60
    assert "60 node_minutes" in caplog.text
    assert set(tasks.prune_expired().values()) == {0}


def test_the_retention_job_is_scheduled_hourly():
    schedule = Schedule.objects.get(name="rewards: prune expired rows")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == ("rewards.tasks.prune_expired", "I", 60)
