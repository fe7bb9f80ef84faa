"""Every online relaying node is checked within SPOT_CHECK_INTERVAL_SECONDS: deadlines, claims, runs."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from nodes.models import Node
from streams.models import OriginMinute
from streams.tests.hook_clients import srs_payload
from testkit.fixtures import eventually, live_session_exists
from testkit.hls import HlsWatcher
from testkit.media import free_port, publish_test_source, stop_process
from validation import checks
from validation.models import CheckDue, NodeTrust, OriginFrame, Outcome, SpotCheck
from validation.runner import run
from validation.services import scheduling
from validation.windows import OriginWindows

pytestmark = pytest.mark.django_db


@pytest.fixture
def relaying(register, node_client, stream_and_key, post_srs, settings):
    """Makes online nodes relaying the live stream 'alice' at URLs where nothing listens."""
    settings.NODE_ALLOW_PRIVATE_URLS = True
    post_srs(srs_payload("on_publish", key=stream_and_key[1]))

    def make(count: int) -> list[Node]:
        nodes = []
        for n in range(count):
            node, key = register(f"n{n}", public_url=f"http://127.0.0.1:{free_port()}")
            node_client(key).beat()
            nodes.append(node)
        return nodes

    return make


def passed(node: Node, at: datetime) -> SpotCheck:
    """A passing check at ``at``, recorded the way the service does it (trust, then the deadline)."""
    check = SpotCheck.objects.create(node=node, checked_at=at, outcome=Outcome.PASS, latency_ms=5)
    trust, _ = NodeTrust.objects.get_or_create(node=node)
    trust.score = trust.score * 0.8 + 0.2
    trust.checks += 1
    trust.save()
    scheduling.schedule_next(check, trust)
    return check


def test_a_new_node_is_due_at_once(relaying):
    (node,) = relaying(1)
    assert scheduling.claim_due(5) == [node]


def test_a_claimed_node_is_not_claimed_again_until_its_lease_runs_out(relaying):
    nodes = relaying(3)
    first = scheduling.claim_due(2)
    second = scheduling.claim_due(5)
    assert len(first) == 2 and len(second) == 1 and set(first) | set(second) == set(nodes)
    assert scheduling.claim_due(5) == []
    Node.objects.update(stale_after=timezone.now() + timedelta(days=1))  # still online then
    later = timezone.now() + scheduling.CLAIM_LEASE + timedelta(seconds=1)
    assert len(scheduling.claim_due(5, now=later)) == 3  # a crashed worker's claims come back


def test_the_most_overdue_node_comes_first(relaying):
    nodes = relaying(3)
    now = timezone.now()
    for minutes, node in zip((2, 9, 5), nodes, strict=True):
        CheckDue.objects.update_or_create(node=node, defaults={"due_at": now - timedelta(minutes=minutes)})
    assert scheduling.claim_due(3) == [nodes[1], nodes[2], nodes[0]]


def test_a_trusted_node_waits_at_most_the_interval_and_a_new_one_a_quarter_of_it(relaying, settings):
    new, trusted = relaying(2)
    interval = timedelta(seconds=settings.SPOT_CHECK_INTERVAL_SECONDS)
    NodeTrust.objects.create(node=trusted, score=1.0, checks=40)
    now = timezone.now()
    for _ in range(50):
        NodeTrust.objects.filter(node=new).delete()  # its first check, every time
        passed(new, now)
        passed(trusted, now)
        new_wait = CheckDue.objects.get(node=new).due_at - now
        trusted_wait = CheckDue.objects.get(node=trusted).due_at - now
        soonest = timedelta(seconds=scheduling.SOONEST)
        assert soonest <= new_wait <= interval * 0.25
        assert soonest <= trusted_wait <= interval


def test_a_node_cannot_know_its_next_check_is_not_a_minute_away(settings):
    """Memoryless draws: however long since the last check, the next may come soon."""
    longest = settings.SPOT_CHECK_INTERVAL_SECONDS
    draws = [scheduling.draw(longest) for _ in range(2000)]
    assert max(draws) <= longest and min(draws) >= scheduling.SOONEST
    soon = sum(1 for d in draws if d <= longest / 5)  # about 18 % for an exponential
    late = sum(1 for d in draws if d >= longest * 0.8)  # and about 45 % wait 80 % or more
    assert soon > 200 and late > 600


def test_a_failed_node_is_checked_again_within_three_minutes(relaying):
    (node,) = relaying(1)
    check = SpotCheck.objects.create(node=node, checked_at=timezone.now(), outcome=Outcome.MISMATCH, latency_ms=5)
    scheduling.schedule_next(check, NodeTrust.objects.create(node=node, score=0.9, checks=30))
    assert timedelta(minutes=1) <= CheckDue.objects.get(node=node).due_at - check.checked_at <= timedelta(minutes=3)


def test_every_node_is_checked_within_the_interval_when_the_workers_keep_up(relaying, settings):
    """Two simulated hours of a scheduler that runs each minute and checks what is due."""
    nodes = relaying(40)
    Node.objects.update(stale_after=timezone.now() + timedelta(days=1))  # online throughout
    interval = timedelta(seconds=settings.SPOT_CHECK_INTERVAL_SECONDS)
    start = timezone.now()
    checked: dict[int, list[datetime]] = defaultdict(list)
    for minute in range(120):
        now = start + timedelta(minutes=minute)
        for node in scheduling.claim_due(1000, now=now):
            passed(node, now)
            checked[node.pk].append(now)
    assert set(checked) == {node.pk for node in nodes}
    gaps = [b - a for times in checked.values() for a, b in itertools.pairwise(times)]
    assert max(gaps) <= interval + timedelta(minutes=1)  # the deadline, then the next minute's run
    assert scheduling.overdue(start + timedelta(minutes=119)) == (0, 0.0)


def test_overdue_nodes_show_how_far_coverage_has_fallen_behind(relaying):
    nodes = relaying(2)
    now = timezone.now()
    CheckDue.objects.create(node=nodes[0], due_at=now - timedelta(minutes=4))
    count, seconds = scheduling.overdue(now)
    assert count == 2 and seconds == 240.0  # the second node was never checked: due as well


def test_a_run_checks_every_due_node_once_many_at_a_time(relaying):
    relaying(6)
    outcomes = run(seconds=30, concurrency=4)
    assert outcomes == {"unreachable": 6}
    assert SpotCheck.objects.count() == 6
    assert run(seconds=30, concurrency=4) == {}  # nobody is due again yet


def test_a_run_started_with_a_limit_stops_there(relaying):
    relaying(5)
    assert sum(run(seconds=30, limit=2).values()) == 2


def test_checks_that_finished_before_an_origin_read_began_share_it():
    reads: list[str] = []

    def read(url: str, *, known: dict[str, list[bytes]]) -> tuple[list[bytes], list[str]]:
        reads.append(url)
        return [b"frame"], ["seg.ts"]

    origins = OriginWindows(read)
    first = origins.read("http://origin/a.m3u8", not_before=0.0)
    assert origins.read("http://origin/a.m3u8", not_before=first.read_at) is first  # finished before it began
    newer = origins.read("http://origin/a.m3u8", not_before=time.monotonic())  # finished after: a new read
    assert newer is not first and len(reads) == 2
    origins.read("http://origin/b.m3u8", not_before=0.0)
    assert reads == ["http://origin/a.m3u8", "http://origin/a.m3u8", "http://origin/b.m3u8"]


def test_an_unreadable_origin_is_read_again_by_the_next_check():
    calls = 0

    def read(url: str, *, known: dict[str, list[bytes]]) -> tuple[list[bytes], list[str]]:
        nonlocal calls
        calls += 1
        raise checks.OriginUnavailable("connection refused")

    origins = OriginWindows(read)
    with pytest.raises(checks.OriginUnavailable, match="refused"):
        origins.read("http://origin/a.m3u8", not_before=0.0)
    with pytest.raises(checks.OriginUnavailable):
        origins.read("http://origin/a.m3u8", not_before=0.0)  # the same failed read: not retried at once
    with pytest.raises(checks.OriginUnavailable):
        origins.read("http://origin/a.m3u8", not_before=time.monotonic())
    assert calls == 2


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_the_sampling_run_keeps_the_origin_history_while_no_node_is_due(origin, make_stream):
    stream, key = make_stream("alice")
    publisher = publish_test_source(origin.rtmp_url("alice", key), seconds=40)
    try:
        eventually(live_session_exists, 15, "alice is live")
        eventually(lambda: HlsWatcher(origin.hls_url("alice")).poll() >= 2, 20, "the origin writes HLS")
        OriginMinute.objects.all().delete()
        assert run(seconds=5, sample_every=1) == {}  # no node: nothing checked, the origin read all the same
        assert OriginFrame.objects.filter(stream=stream).count() > 30  # more than one second of frames
        assert OriginMinute.objects.filter(stream=stream).exists()  # a sign of life for this minute
    finally:
        stop_process(publisher)
