"""Live: real `streamr-node` agents relay a real nginx-rtmp origin's stream, frame for frame."""

from __future__ import annotations

import subprocess
import time

import pytest
from django.conf import settings as django_settings
from django.db.models import Sum

from nodes.models import Node, NodeMinute
from testkit.fixtures import eventually, live_session_exists
from testkit.hls import HlsWatcher
from testkit.media import NginxRtmpOrigin, publish_test_source, stop_process
from testkit.proxy import TcpProxy

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

WINDOW_SECONDS = 60


def relay_processes(data_dir: str) -> list[str]:
    found = subprocess.run(["pgrep", "-af", f"ffmpeg.*{data_dir}"], capture_output=True, text=True)
    return [line for line in found.stdout.splitlines() if "pgrep" not in line]


def test_two_agents_relay_an_8_mbps_stream_and_serve_only_origin_frames(origin, enroll, stream_and_key):
    _, key = stream_and_key
    publisher = publish_test_source(
        origin.rtmp_url("alice", key), seconds=WINDOW_SECONDS + 40, video_bitrate="8M", size="1280x720"
    )
    try:
        eventually(live_session_exists, 15, "the stream goes live")
        at_origin = HlsWatcher(origin.hls_url("alice"))
        agents = [enroll("relay-a").start(), enroll("relay-b").start()]
        served = [HlsWatcher(agent.playlist_url("alice")) for agent in agents]

        def both_serve() -> bool:
            for watcher in (at_origin, *served):
                watcher.poll()
            return all(w.segments > 0 for w in served)

        eventually(both_serve, 30, "both agents serve HLS")
        for watcher in served:
            watcher.errors.clear()  # refused/404 while the agents started; the window must have none

        started = time.monotonic()
        heartbeats_at_start = NodeMinute.objects.aggregate(n=Sum("heartbeats"))["n"] or 0
        while time.monotonic() - started < WINDOW_SECONDS:
            at_origin.poll()
            for watcher in served:
                watcher.poll()
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        for _ in range(8):  # the origin publishes its newest fragment a moment after the relays
            at_origin.poll()
            time.sleep(0.5)
        assert publisher.poll() is None, "the publisher ended early"
        assigned = sorted(Node.objects.values_list("assigned_stream__slug", flat=True))
    finally:
        stop_process(publisher)

    origin_frames = at_origin.frames
    origin_set = set(origin_frames)
    print(
        f"origin: {len(origin_frames)} frames, {at_origin.bytes * 8 / elapsed / 1e6:.1f} Mbit/s; "
        + "; ".join(
            f"{a.name}: {len(w.frames)} frames, {w.segments} segments" for a, w in zip(agents, served, strict=True)
        )
    )
    assert at_origin.bytes * 8 / elapsed > 6_000_000, "the stream is not ~8 Mbps"
    for agent, watcher in zip(agents, served, strict=True):
        frames = watcher.frames
        assert len(frames) >= 30 * (WINDOW_SECONDS - 5), f"{agent.name} served too few frames"
        foreign = [f for f in frames if f not in origin_set]
        assert foreign == [], f"{agent.name} served {len(foreign)} frames the origin never had"
        first = origin_frames.index(frames[0])
        assert origin_frames[first : first + len(frames)] == frames, f"{agent.name} skipped or reordered frames"
        assert watcher.errors == [], watcher.errors

    nodes = Node.objects.order_by("name")
    assert [n.name for n in nodes] == ["relay-a", "relay-b"]
    for node, watcher in zip(nodes, served, strict=True):
        totals = NodeMinute.objects.filter(node=node).aggregate(beats=Sum("heartbeats"), sent=Sum("bytes_served"))
        assert totals["beats"] >= WINDOW_SECONDS / 2 * 0.8, "heartbeats did not reach the site"
        # Everything we downloaded was counted, but for the last couple of seconds not yet reported.
        assert totals["sent"] >= 0.9 * watcher.bytes
        assert NodeMinute.objects.filter(node=node, stream__slug="alice").exists()
    assert assigned == ["alice", "alice"]
    heartbeats_at_end = NodeMinute.objects.aggregate(n=Sum("heartbeats"))["n"]
    assert heartbeats_at_end > heartbeats_at_start, "buckets did not grow"


def test_an_agent_recovers_by_itself_when_the_origin_restarts(origin, enroll, stream_and_key, tmp_path, site):
    _, key = stream_and_key
    agent = enroll("relay")
    first = publish_test_source(origin.rtmp_url("alice", key), seconds=90)
    second = None
    restarted = None
    try:
        eventually(live_session_exists, 15, "the stream goes live")
        agent.start()
        before = HlsWatcher(agent.playlist_url("alice"))
        eventually(lambda: before.poll() > 0, 30, "the agent relays")

        ports = (origin.rtmp_port, origin.http_port)
        origin.stop()
        stop_process(first)
        time.sleep(2)
        restarted = NginxRtmpOrigin(
            tmp_path / "origin-2",
            hook_base_url=site,
            secret=django_settings.HOOK_SECRET,
            update_seconds=2,
            ports=ports,
        ).start()
        # A different picture, so frames from before the restart cannot pass for new ones. Like
        # OBS, the publisher retries: until the site notices the old session is gone (nginx sends
        # no on_publish_done when it is killed) a second publisher may be refused.
        deadline = time.monotonic() + 30
        while True:
            second = publish_test_source(restarted.rtmp_url("alice", key), seconds=90, pattern="testsrc")
            time.sleep(3)
            if second.poll() is None or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert second.poll() is None, "the origin never admitted the new publisher"
        assert live_session_exists()
        at_origin = HlsWatcher(restarted.hls_url("alice"))
        after = HlsWatcher(agent.playlist_url("alice"))

        def relays_new_frames() -> bool:
            at_origin.poll()
            after.poll()
            return len(after.frames) > 60 and set(after.frames) <= set(at_origin.frames)

        eventually(relays_new_frames, 60, "the agent relays the restarted origin's stream", every=1.0)
        assert not set(after.frames) & set(before.frames)
        assert "restarting in" in agent.log()
    finally:
        for process in (first, second):
            if process is not None:
                stop_process(process)
        if restarted is not None:
            restarted.stop()


def test_an_agent_keeps_relaying_through_a_coordinator_outage(origin, enroll, stream_and_key, site):
    _, key = stream_and_key
    proxy = TcpProxy(int(site.rsplit(":", 1)[1])).start()
    agent = enroll("relay", coordinator=proxy.url)
    publisher = publish_test_source(origin.rtmp_url("alice", key), seconds=60)
    try:
        eventually(live_session_exists, 15, "the stream goes live")
        agent.start()
        served = HlsWatcher(agent.playlist_url("alice"))
        eventually(lambda: served.poll() > 0, 30, "the agent relays")

        proxy.stop()
        beats_during_outage = NodeMinute.objects.aggregate(n=Sum("heartbeats"))["n"]
        segments_before = served.segments
        outage_end = time.monotonic() + 10
        while time.monotonic() < outage_end:
            served.poll()
            time.sleep(0.5)
        assert served.segments >= segments_before + 7, "relaying stalled while the coordinator was away"
        assert "heartbeat failed" in agent.log() and "still relaying" in agent.log()
        assert NodeMinute.objects.aggregate(n=Sum("heartbeats"))["n"] == beats_during_outage

        proxy.start()
        eventually(
            lambda: NodeMinute.objects.aggregate(n=Sum("heartbeats"))["n"] > beats_during_outage,
            30,
            "heartbeats resume after the outage",
        )

        # Even killed outright, the agent leaves no ffmpeg behind writing its directory.
        assert agent.process is not None
        data_dir = str(agent.workdir / "data")
        assert relay_processes(data_dir), "no ffmpeg relay found for the agent"
        agent.process.kill()
        agent.process.wait(timeout=5)
        eventually(lambda: not relay_processes(data_dir), 5, "the agent's ffmpeg exits with it")
    finally:
        stop_process(publisher)
        proxy.stop()
