"""Live: spot-checks against a real origin tell an honest relay from six kinds of cheat."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from django.utils import timezone

from nodes import services as node_services
from nodes.models import Node
from streams.models import Stream, StreamSession
from testkit.adversaries import Mirror, Redirector, Silent, StaticHls
from testkit.fixtures import eventually
from testkit.hls import HlsWatcher, fetch
from testkit.media import free_port, publish_test_source, stop_process
from validation import playlists, services
from validation.models import CheckDue
from validation.tasks import run_spot_checks

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

STALE_AFTER_SECONDS = 60  # the recording is served this long after it was taken


def fake_node(friend, name: str, base_url: str) -> Node:
    """A registered node claiming to relay 'alice' (its heartbeat is as good as any)."""
    _, token = node_services.create_enrollment_token(friend)
    node, _ = node_services.register_node(token=token, name=name, public_url=base_url)
    beat_again(node, seq=1)
    node_services.pin(node, Stream.objects.get(slug="alice"))  # two streams are live: make it alice
    node = Node.objects.select_related("assigned_stream").get(pk=node.pk)
    assert node.assigned_stream is not None and node.assigned_stream.slug == "alice"
    return node


def beat_again(node: Node, *, seq: int) -> None:
    """A heartbeat claiming 'alice': keeps a fake node online (the site's interval here is 2 s)."""
    beat = node_services.Heartbeat(seq, "s", timezone.now(), 0, 0, 0, 0, True, 1.0, stream="alice")
    node_services.record_heartbeat(Node.objects.get(pk=node.pk), beat)


def record(playlist_url: str, directory: Path) -> int:
    """Save a live playlist and its segments, to replay later as if live."""
    directory.mkdir(parents=True)
    text = fetch(playlist_url).decode()
    for uri in playlists.uris(text):
        name = Path(uri).name
        (directory / name).write_bytes(fetch(playlist_url.rsplit("/", 1)[0] + "/" + name))
        text = text.replace(uri, name)
    (directory / "index.m3u8").write_text(text)
    return len(playlists.uris(text))


def check(node: Node) -> tuple[str, int]:
    result = services.spot_check(Node.objects.select_related("assigned_stream").get(pk=node.pk), trigger="test")
    return result.outcome, result.latency_ms


def test_the_honest_node_passes_and_each_adversary_gets_its_own_verdict(
    origin, enroll, make_stream, friend, tmp_path, settings
):
    _, alice_key = make_stream("alice")
    _, bob_key = make_stream("bob")
    alice = publish_test_source(origin.rtmp_url("alice", alice_key), seconds=STALE_AFTER_SECONDS + 60)
    # Another live stream, with a different picture, for the node that serves the wrong stream.
    bob = publish_test_source(origin.rtmp_url("bob", bob_key), seconds=STALE_AFTER_SECONDS + 60, pattern="testsrc")
    servers: list[StaticHls | Mirror | Redirector | Silent] = []
    try:
        eventually(lambda: StreamSession.objects.filter(ended_at__isnull=True).count() == 2, 15, "both streams live")
        honest = enroll("honest")
        node_services.pin(Node.objects.get(name="honest"), Stream.objects.get(slug="alice"))
        honest.start()
        watcher = HlsWatcher(honest.playlist_url("alice"))
        eventually(lambda: watcher.poll() >= 0 and watcher.segments > 1, 30, "the honest agent relays alice")
        stream = Stream.objects.get(slug="alice")
        eventually(lambda: HlsWatcher(origin.hls_url("alice")).poll() >= 3, 20, "the origin has an HLS window")

        # (b) a recording of alice, replayed a minute later
        recorded_at = time.monotonic()
        assert record(origin.hls_url("alice"), tmp_path / "recording") >= 3
        services.sample_origin(stream)

        garbage = tmp_path / "garbage"
        garbage.mkdir()
        (garbage / "index.m3u8").write_text("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nseg_1.ts\n")
        (garbage / "seg_1.ts").write_bytes(os.urandom(200_000))

        servers = [
            Mirror(origin.hls_url("bob")).start(),  # (c) another live stream
            Redirector(origin.hls_url("alice")).start(),  # (d) a redirect to the origin
            StaticHls(garbage).start(),  # (e) random bytes as segments
            Silent().start(),  # (f) accepts, never answers
        ]
        expected = {
            fake_node(friend, "nothing-listening", f"http://127.0.0.1:{free_port()}"): "unreachable",  # (a)
            fake_node(friend, "other-stream", servers[0].base_url): "mismatch",
            fake_node(friend, "redirector", servers[1].base_url): "redirect",
            fake_node(friend, "random-bytes", servers[2].base_url): "bad_media",
            fake_node(friend, "silent", servers[3].base_url): "timeout",
            # the honest relay's URL, claimed by another node: its /healthz names the honest node
            fake_node(friend, "borrowed-url", honest.base_url): "mismatch",
        }
        honest_node = Node.objects.get(name="honest")
        outcome, latency = check(honest_node)
        assert outcome == "pass"
        print(f"honest spot-check: {latency} ms (bench/spotcheck.py measures this properly)")
        verdicts = {node.name: check(node)[0] for node in expected}
        assert verdicts == {node.name: outcome for node, outcome in expected.items()}

        # The scheduled run checks everyone online; garbage media never stops it.
        for node in expected:  # the checks above took longer than the fakes' 2 s heartbeat interval
            beat_again(node, seq=2)
        CheckDue.objects.update(due_at=timezone.now())  # as if every node's interval had passed
        summary = run_spot_checks(limit=10)
        assert summary.get("bad_media") == 1 and summary.get("pass") == 1 and "error" not in summary

        # Keep the origin history current, as the schedule does, until the recording is a minute old.
        while time.monotonic() - recorded_at < STALE_AFTER_SECONDS:
            services.sample_origin(stream)
            time.sleep(5)
        replay = StaticHls(tmp_path / "recording").start()
        servers.append(replay)
        stale = fake_node(friend, "replay", replay.base_url)
        result = services.spot_check(stale, trigger="test")
        assert result.outcome == "stale", (
            result.node_frames,
            result.live_matches,
            result.stale_matches,
            result.evidence,
        )
        assert check(honest_node)[0] == "pass"
    finally:
        for server in servers:
            server.stop()
        stop_process(alice)
        stop_process(bob)
