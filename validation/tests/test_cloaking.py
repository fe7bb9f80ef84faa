"""A relay that serves the checker one thing and viewers another never passes: the checker looks
like a viewer, and viewers' own reports audit what the checker is sent."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from nodes.models import Node
from streams.models import Stream, StreamSession
from testkit.adversaries import HeaderCloak
from testkit.fixtures import eventually
from testkit.hls import HlsWatcher, fetch
from testkit.media import publish_test_source, stop_process
from validation import playlists, services
from validation.fingerprints import frame_fingerprints
from validation.models import DeliveredSegment
from validation.tests.test_live_spot_checks import fake_node

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

OLD_CHECKER = {"User-Agent": "streamrp2p-spotcheck", "Accept-Encoding": "identity"}


def reported(node: Node, url: str, sha256: str, *tickets: str) -> None:
    for ticket in tickets:
        DeliveredSegment.objects.create(
            ticket=ticket,
            node=node,
            stream=node.assigned_stream,
            url=url,
            size=1000,
            sha256=sha256,
            reported_at=timezone.now() - timedelta(seconds=5),
        )


def check(node: Node) -> str:
    return services.spot_check(Node.objects.select_related("assigned_stream").get(pk=node.pk), trigger="test").outcome


def test_cloaking_by_headers_or_against_viewers_never_passes(origin, enroll, make_stream, friend):
    _, key = make_stream("alice")
    publisher = publish_test_source(origin.rtmp_url("alice", key), seconds=120)
    cloak = None
    try:
        eventually(lambda: StreamSession.objects.filter(ended_at__isnull=True).exists(), 15, "alice is live")
        honest = enroll("honest").start()
        watcher = HlsWatcher(honest.playlist_url("alice"))
        eventually(lambda: watcher.poll() >= 0 and watcher.segments > 2, 40, "the honest agent relays alice")
        stream = Stream.objects.get(slug="alice")
        eventually(lambda: HlsWatcher(origin.hls_url("alice")).poll() >= 3, 20, "the origin has an HLS window")
        services.sample_origin(stream)
        honest_node = Node.objects.get(name="honest")
        assert check(honest_node) == "pass"

        # 1. Cloaking by request headers: the relay really serves the old checker the live stream...
        cloak = HeaderCloak(honest.playlist_url("alice")).start()
        listed = playlists.uris(httpx.get(cloak.base_url + "/hls/alice/index.m3u8", headers=OLD_CHECKER).text)
        old_view = httpx.get(f"{cloak.base_url}/hls/alice/{listed[-1]}", headers=OLD_CHECKER).content
        assert frame_fingerprints(old_view)
        # ... and the checker, sending what a player sends, is served what viewers get.
        cloaked_node = fake_node(friend, "header-cloak", cloak.base_url)
        assert check(cloaked_node) in {"bad_media", "mismatch"}
        assert cloak.garbage >= 1

        # 2. Viewers were sent other bytes than the checker is: two of them agree, so it is cloaking.
        names = playlists.uris(fetch(honest.playlist_url("alice")).decode())
        audited = f"{honest_node.public_url}/hls/alice/{names[-2]}"
        node = Node.objects.select_related("assigned_stream").get(pk=honest_node.pk)
        other = hashlib.sha256(b"what the viewers were really sent").hexdigest()
        reported(node, audited, other, "viewer-a", "viewer-b")
        result = services.spot_check(node, trigger="test")
        assert result.outcome == "cloaked", result.evidence
        assert audited in result.evidence["audited"]

        # 3. One forged report alone cannot fail an honest relay.
        DeliveredSegment.objects.all().delete()
        names = playlists.uris(fetch(honest.playlist_url("alice")).decode())
        reported(node, f"{honest_node.public_url}/hls/alice/{names[-2]}", other, "a-rival")
        result = services.spot_check(node, trigger="test")
        assert result.outcome == "pass" and "lone_disagreement" in result.evidence
    finally:
        if cloak is not None:
            cloak.stop()
        stop_process(publisher)
