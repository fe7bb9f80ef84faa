"""Every viewer count the site shows is people: watch pages whose ticket reported loading new
segments in the last 30 s, from a node or from the origin. Relays' pulls and node claims are not."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone

from streams import services as stream_services
from streams.models import Stream, Watcher
from streams.tests.hook_clients import srs_payload
from validation import services, tasks
from validation.models import AttestedMinute
from validation.tests.playback_helpers import relaying

pytestmark = pytest.mark.django_db


def playback(client, address: str = "203.0.113.7") -> dict:
    return client.get("/api/v1/streams/alice/playback", REMOTE_ADDR=address).json()


def origin_segment(stream, number: int) -> dict:
    prefix = stream.origin_hls_url().rsplit("/", 1)[0]
    digest = hashlib.sha256(b"%d" % number).hexdigest()
    return {"url": f"{prefix}/alice-{number}.ts?hls_ctx=x", "bytes": 1000, "sha256": digest}


def node_segment(node, number: int) -> dict:
    return {"url": f"{node.public_url}/hls/alice/seg_{number}.ts", "bytes": 1000, "sha256": "a" * 64}


def report(client, ticket: str, *segments: dict):
    cache.clear()  # a new report window (the per-ticket rate limit has its own test)
    return client.post(
        "/api/v1/playback/reports", {"ticket": ticket, "segments": list(segments)}, content_type="application/json"
    )


def watching(now) -> dict[int, int]:
    """People watching each stream at ``now``, as every count on the site reckons them."""
    streams = Stream.objects.annotate(n=Count("watchers", filter=stream_services.watching_now(now)))
    return {stream.pk: stream.n for stream in streams if stream.n}


def shown(client) -> int:
    return {s["slug"]: s for s in client.get("/api/v1/streams").json()}["alice"]["viewers"]


def test_an_origin_viewer_counts_as_watching_and_pays_nobody(client, live_alice):
    ticket = playback(client)["ticket"]
    assert shown(client) == 0  # a ticket alone is nobody: the player must load something
    answer = report(client, ticket, origin_segment(live_alice, 1), origin_segment(live_alice, 2)).json()
    assert (answer["accepted"], answer["bytes"]) == (2, 0)
    assert shown(client) == 1 and not AttestedMinute.objects.exists()


def test_a_viewer_of_a_node_counts_once_however_often_it_reports(client, live_alice, register):
    node = relaying(register("den")[0], live_alice)
    ticket = playback(client)["ticket"]
    for number in range(3):
        assert report(client, ticket, node_segment(node, number)).json()["accepted"] == 1
    other = playback(client, "198.51.100.9")["ticket"]
    report(client, other, node_segment(node, 0))
    assert shown(client) == 2


def test_a_replayed_origin_report_keeps_nobody_counted(client, live_alice):
    ticket = playback(client)["ticket"]
    first = origin_segment(live_alice, 1)
    report(client, ticket, first)
    assert report(client, ticket, first).json()["accepted"] == 0  # nothing newer than last time
    later = timezone.now() + timedelta(seconds=31)
    cache.clear()
    again = services.report_segments(ticket, [services.SegmentReport(first["url"], 1000, first["sha256"])], now=later)
    assert again.accepted == 0
    assert watching(later) == {}


def test_a_viewer_whose_reports_stop_is_not_counted_after_30_seconds(client, live_alice):
    report(client, playback(client)["ticket"], origin_segment(live_alice, 1))
    assert watching(timezone.now() + timedelta(seconds=25)) == {live_alice.pk: 1}
    assert watching(timezone.now() + timedelta(seconds=31)) == {}


def test_segments_not_from_the_origin_count_nobody(client, live_alice):
    ticket = playback(client)["ticket"]
    elsewhere = {"url": "http://elsewhere.example/hls/alice-1.ts", "bytes": 1000, "sha256": "b" * 64}
    assert report(client, ticket, elsewhere).json()["accepted"] == 0
    assert shown(client) == 0


def test_an_address_gets_a_bounded_number_of_tickets_a_minute_and_still_plays(client, live_alice, settings):
    settings.PLAYBACK_TICKETS_PER_ADDRESS_MINUTE = 2
    answers = [playback(client, "203.0.113.50") for _ in range(3)]
    assert [a["ticket"] is not None for a in answers] == [True, True, False]
    assert answers[2]["url"] == live_alice.origin_hls_url()  # refused a ticket, never the video
    assert playback(client, "203.0.113.51")["ticket"] is not None  # another address is not held back


def test_viewers_of_an_ended_session_are_not_counted(client, live_alice, post_srs):
    report(client, playback(client)["ticket"], origin_segment(live_alice, 1))
    post_srs(srs_payload("on_unpublish"))
    assert shown(client) == 0


def test_the_home_and_streamer_pages_show_the_attested_count(client, live_alice, register):
    node = relaying(register("den")[0], live_alice)
    report(client, playback(client)["ticket"], node_segment(node, 1))
    report(client, playback(client, "198.51.100.9")["ticket"], node_segment(node, 1))
    home = client.get("/").content.decode()
    assert '<td class="num" data-label="Viewers">2</td>' in home
    client.force_login(live_alice.owner)
    assert "2 viewer(s) now" in client.get("/me/streams").content.decode()


def test_watchers_gone_for_a_day_are_pruned_with_the_fraud_job(client, live_alice):
    report(client, playback(client)["ticket"], origin_segment(live_alice, 1))
    Watcher.objects.update(last_seen=timezone.now() - timedelta(days=1, minutes=1))
    report(client, playback(client, "198.51.100.9")["ticket"], origin_segment(live_alice, 2))
    tasks.detect_fraud()
    assert Watcher.objects.count() == 1


def test_a_ticket_counts_only_while_its_reports_move_forward(client, live_alice):
    ticket = playback(client)["ticket"]
    report(client, ticket, origin_segment(live_alice, 7))
    assert report(client, ticket, origin_segment(live_alice, 3)).json()["accepted"] == 0  # back in time
    assert report(client, ticket, origin_segment(live_alice, 8)).json()["accepted"] == 1


def test_one_address_counts_as_at_most_so_many_people(client, live_alice, settings):
    settings.PLAYBACK_WATCHERS_PER_ADDRESS = 2
    for _ in range(3):
        report(client, playback(client, "2001:db8:1:2::7")["ticket"], origin_segment(live_alice, 1))
    other_host = playback(client, "2001:db8:1:2:ffff::1")["ticket"]  # the same /64: the same client
    report(client, other_host, origin_segment(live_alice, 1))
    assert shown(client) == 2
    report(client, playback(client, "2001:db8:1:3::7")["ticket"], origin_segment(live_alice, 1))
    assert shown(client) == 3


def test_a_failing_cache_costs_the_ticket_never_the_video(client, live_alice, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(services.delivery.cache, "incr", broken)
    answer = playback(client)
    assert answer["ticket"] is None and answer["url"] == live_alice.origin_hls_url()
