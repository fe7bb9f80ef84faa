"""Retention of validation's records: old passing checks go (trust is a running score), each
node's newest check, confirmed failures and the checks of nodes with old unvested credits stay;
attested minutes go with their settled hours; viewers' reports after a day, origin fingerprints
after the history window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from validation import services
from validation.models import AttestedMinute, DeliveredSegment, NodeTrust, OriginFrame, Outcome, SpotCheck

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture
def now():
    return timezone.now().replace(minute=30, second=0, microsecond=0)


@pytest.fixture
def node(register):
    return register("den")[0]


def prune(now, **kwargs):
    kwargs.setdefault("before", now - 7 * DAY)
    kwargs.setdefault("failures_before", now - 365 * DAY)
    return services.prune_validation(now=now, **kwargs)


def check(node, outcome, at, *, provisional=False):
    return SpotCheck.objects.create(
        node=node, checked_at=at, outcome=outcome, latency_ms=5, provisional=provisional, evidence={"segments": ["x"]}
    )


def test_prunes_passing_checks_past_retention_but_keeps_recent_ones(node, now):
    for days in (10, 9, 8):
        check(node, Outcome.PASS, now - days * DAY)
    recent = check(node, Outcome.PASS, now - HOUR)
    NodeTrust.objects.create(node=node, score=0.9, checks=4)
    assert prune(now)["spot_checks"] == 3
    assert list(SpotCheck.objects.values_list("pk", flat=True)) == [recent.pk]
    # trust is a running score, not a re-read of history: pruning leaves it as it was
    assert NodeTrust.objects.filter(node=node, score=0.9, checks=4).exists()


def test_keeps_the_newest_check_of_a_node_however_old(node, register, now):
    check(node, Outcome.PASS, now - 30 * DAY)
    newest = check(node, Outcome.TIMEOUT, now - 20 * DAY, provisional=True)
    other = register("attic")[0]
    only = check(other, Outcome.PASS, now - 50 * DAY)
    prune(now)
    # the provisional-failure rule reads a node's newest check: it stays
    assert set(SpotCheck.objects.values_list("pk", flat=True)) == {newest.pk, only.pk}


def test_keeps_confirmed_failures_until_their_own_retention(node, now):
    failed = check(node, Outcome.MISMATCH, now - 30 * DAY)
    unconfirmed = check(node, Outcome.UNREACHABLE, now - 29 * DAY, provisional=True)
    ancient = check(node, Outcome.STALE, now - 400 * DAY)
    check(node, Outcome.PASS, now - HOUR)
    assert prune(now)["spot_checks"] == 2
    left = SpotCheck.objects.filter(pk__in=[failed.pk, unconfirmed.pk, ancient.pk])
    assert list(left.values_list("pk", flat=True)) == [failed.pk]


def test_keeps_every_check_of_a_held_node(node, register, now):
    other = register("attic")[0]
    for n in (node, other):
        check(n, Outcome.PASS, now - 20 * DAY)
        check(n, Outcome.PASS, now - HOUR)
    assert prune(now, hold={node.pk})["spot_checks"] == 1
    assert SpotCheck.objects.filter(node=node).count() == 2
    assert SpotCheck.objects.filter(node=other).count() == 1


def test_prunes_attested_minutes_past_retention_except_the_hours_kept(node, stream_and_key, now):
    stream, _ = stream_and_key
    unsettled = (now - 100 * DAY).replace(minute=0)
    settled = (now - 9 * DAY).replace(minute=0)
    for start in (unsettled, settled, now - HOUR):
        AttestedMinute.objects.bulk_create(
            AttestedMinute(node=node, stream=stream, minute=start + timedelta(minutes=m), bytes=1000) for m in range(10)
        )
    assert services.attested_minute_hours(now - 7 * DAY) == {(stream.pk, unsettled), (stream.pk, settled)}
    assert prune(now, keep={(stream.pk, unsettled)})["attested_minutes"] == 10
    assert AttestedMinute.objects.filter(minute__lt=unsettled + HOUR).count() == 10
    assert AttestedMinute.objects.count() == 20


def test_prunes_viewers_segment_reports_after_a_day_and_old_origin_fingerprints(node, stream_and_key, now):
    stream, _ = stream_and_key
    for ticket, at in (("old", now - 2 * DAY), ("new", now - HOUR)):
        DeliveredSegment.objects.create(
            ticket=ticket,
            node=node,
            stream=stream,
            url=f"http://x/{ticket}.ts",
            size=1,
            sha256="0" * 64,
            reported_at=at,
        )
    OriginFrame.objects.create(stream=stream, fingerprint=b"a" * 16, seen_at=now - DAY)
    OriginFrame.objects.create(stream=stream, fingerprint=b"b" * 16, seen_at=now)
    counts = prune(now)
    assert (counts["delivered_segments"], counts["origin_frames"]) == (1, 1)
    assert list(DeliveredSegment.objects.values_list("ticket", flat=True)) == ["new"]


def test_a_second_prune_finds_nothing_left(node, stream_and_key, now):
    check(node, Outcome.PASS, now - 20 * DAY)
    check(node, Outcome.PASS, now - HOUR)
    assert prune(now)["spot_checks"] == 1
    assert set(prune(now).values()) == {0}
