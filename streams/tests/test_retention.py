"""Retention of streams' growing tables: origin minutes once their hour needs no settling, closed
origin connections, watchers gone for a day; deletes in bounded chunks."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from streams import services
from streams.models import Origin, OriginMinute, StreamSession, StreamViewer, Watcher

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture
def now():
    return timezone.now().replace(minute=30, second=0, microsecond=0)


@pytest.fixture
def session(stream_and_key):
    stream, key = stream_and_key
    request = services.PublishRequest(origin=Origin.SRS, app="live", slug=stream.slug, key=key, client_id="c")
    services.admit_publish(request)
    return StreamSession.objects.get(stream=stream)


def alive(stream, start, minutes):
    OriginMinute.objects.bulk_create(
        (OriginMinute(stream=stream, minute=start + timedelta(minutes=m)) for m in range(minutes)),
        ignore_conflicts=True,
    )


def test_prunes_origin_minutes_past_retention_and_keeps_recent_ones(stream_and_key, now):
    stream, _ = stream_and_key
    old = (now - 10 * DAY).replace(minute=0)
    alive(stream, old, 60)
    alive(stream, now - HOUR, 30)
    counts = services.prune_streams(before=now - 7 * DAY, now=now)
    assert counts["origin_minutes"] == 60
    assert OriginMinute.objects.count() == 30


def test_keeps_origin_minutes_of_the_stream_hours_it_is_told_to_keep_however_old(stream_and_key, now):
    stream, _ = stream_and_key
    kept = (now - 300 * DAY).replace(minute=0)
    alive(stream, kept, 60)
    alive(stream, kept + HOUR, 60)
    assert services.origin_minute_hours(now - 7 * DAY) == {(stream.pk, kept), (stream.pk, kept + HOUR)}
    services.prune_streams(before=now - 7 * DAY, keep={(stream.pk, kept)}, now=now)
    left = sorted(OriginMinute.objects.values_list("minute", flat=True))
    assert left == [kept + timedelta(minutes=m) for m in range(60)]


def test_prunes_closed_origin_connections_but_keeps_open_ones_however_old(session, now):
    long_ago = now - 30 * DAY
    closed = StreamViewer.objects.create(
        stream=session.stream, session=session, client_id="a", started_at=long_ago, ended_at=long_ago + HOUR
    )
    StreamViewer.objects.create(stream=session.stream, session=session, client_id="b", started_at=long_ago)
    StreamViewer.objects.create(
        stream=session.stream, session=session, client_id="c", started_at=now - HOUR, ended_at=now - HOUR / 2
    )
    assert services.prune_streams(before=now - 7 * DAY, now=now)["stream_viewers"] == 1
    assert not StreamViewer.objects.filter(pk=closed.pk).exists()
    assert set(StreamViewer.objects.values_list("client_id", flat=True)) == {"b", "c"}


def test_prunes_watchers_gone_for_a_day(session, now):
    for ticket, seen in (("gone", now - 2 * DAY), ("recent", now - HOUR)):
        Watcher.objects.create(
            ticket=ticket, stream=session.stream, session=session, first_seen=seen, last_seen=seen, newest_segment="s"
        )
    assert services.prune_streams(before=now - 7 * DAY, now=now)["watchers"] == 1
    assert list(Watcher.objects.values_list("ticket", flat=True)) == ["recent"]


def test_a_second_prune_finds_nothing_left(stream_and_key, now):
    stream, _ = stream_and_key
    alive(stream, now - 9 * DAY, 45)
    assert services.prune_streams(before=now - 7 * DAY, now=now)["origin_minutes"] == 45
    assert services.prune_streams(before=now - 7 * DAY, now=now) == {
        "origin_minutes": 0,
        "stream_viewers": 0,
        "watchers": 0,
    }


def test_deletes_in_chunks_of_the_configured_size(stream_and_key, now, settings):
    stream, _ = stream_and_key
    settings.RETENTION_CHUNK_ROWS = 100
    alive(stream, now - 9 * DAY, 250)
    with CaptureQueriesContext(connection) as queries:
        deleted = services.delete_in_chunks(OriginMinute.objects.filter(minute__lt=now - 7 * DAY))
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("DELETE")]
    assert deleted == 250
    assert len(deletes) == 3  # 100 + 100 + 50: every statement bounded
    assert all("LIMIT 100" in sql for sql in deletes)


def test_stops_at_its_deadline_and_the_next_run_goes_on(stream_and_key, now):
    stream, _ = stream_and_key
    alive(stream, now - 9 * DAY, 30)
    rows = OriginMinute.objects.filter(minute__lt=now - 7 * DAY)
    assert services.delete_in_chunks(rows, chunk=10, deadline=time.monotonic() - 1) == 0
    assert services.delete_in_chunks(rows, chunk=10) == 30
