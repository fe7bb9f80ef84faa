"""Retention of minute buckets: older than the cutoff they go, except the stream-hours the caller
(rewards, which knows what is settled) keeps; bounded chunks, idempotent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from nodes import services
from nodes.models import NodeMinute

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture
def now():
    return timezone.now().replace(minute=30, second=0, microsecond=0)


def buckets(node, stream, start, minutes):
    NodeMinute.objects.bulk_create(
        NodeMinute(node=node, stream=stream, minute=start + timedelta(minutes=m), heartbeats=6, healthy_heartbeats=6)
        for m in range(minutes)
    )


def test_prunes_minute_buckets_past_retention_and_keeps_recent_ones(register, stream_and_key, now):
    stream, _ = stream_and_key
    node, _ = register("den")
    buckets(node, stream, (now - 8 * DAY).replace(minute=0), 60)
    buckets(node, stream, now - HOUR, 60)
    assert services.prune_node_minutes(before=now - 7 * DAY) == {"node_minutes": 60}
    assert NodeMinute.objects.filter(minute__lt=now - 7 * DAY).count() == 0
    assert NodeMinute.objects.count() == 60


def test_keeps_the_buckets_of_a_stream_hour_it_is_told_to_keep_however_old(register, stream_and_key, now):
    stream, _ = stream_and_key
    node, _ = register("den")
    other, _ = register("attic")
    unsettled = (now - 400 * DAY).replace(minute=0)
    buckets(node, stream, unsettled, 60)
    buckets(other, stream, unsettled, 60)
    buckets(node, stream, unsettled + HOUR, 60)
    assert services.minute_bucket_hours(now - 7 * DAY) == {(stream.pk, unsettled), (stream.pk, unsettled + HOUR)}
    assert services.prune_node_minutes(before=now - 7 * DAY, keep={(stream.pk, unsettled)}) == {"node_minutes": 60}
    assert NodeMinute.objects.filter(minute__gte=unsettled, minute__lt=unsettled + HOUR).count() == 120
    assert not NodeMinute.objects.filter(minute__gte=unsettled + HOUR).exists()


def test_prunes_old_buckets_of_no_stream(register, now):
    node, _ = register("den")
    buckets(node, None, now - 8 * DAY, 10)
    assert services.minute_bucket_hours(now - 7 * DAY) == set()  # nothing there settlement pays
    assert services.prune_node_minutes(before=now - 7 * DAY) == {"node_minutes": 10}


def test_a_second_prune_finds_nothing_left(register, stream_and_key, now):
    stream, _ = stream_and_key
    node, _ = register("den")
    buckets(node, stream, now - 9 * DAY, 90)
    assert services.prune_node_minutes(before=now - 7 * DAY) == {"node_minutes": 90}
    assert services.prune_node_minutes(before=now - 7 * DAY) == {"node_minutes": 0}


def test_prunes_in_statements_of_at_most_the_configured_rows(register, stream_and_key, now, settings):
    stream, _ = stream_and_key
    settings.RETENTION_CHUNK_ROWS = 100
    node, _ = register("den")
    buckets(node, stream, now - 9 * DAY, 230)
    with CaptureQueriesContext(connection) as queries:
        assert services.prune_node_minutes(before=now - 7 * DAY) == {"node_minutes": 230}
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("DELETE")]
    assert len(deletes) == 3 and all("LIMIT 100" in sql for sql in deletes)
