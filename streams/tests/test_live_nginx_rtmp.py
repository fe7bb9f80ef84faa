"""Live: a real nginx-rtmp origin asks the site (a live server) whether ffmpeg may publish."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings

from streams.models import StreamSession
from testkit.media import NginxRtmpOrigin, publish_test_source, require_media, stop_process

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def eventually(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout}s: {what}")


@pytest.fixture
def origin(tmp_path, live_server) -> Iterator[NginxRtmpOrigin]:
    require_media()
    base = live_server.url.replace("localhost", "127.0.0.1")
    with NginxRtmpOrigin(tmp_path / "origin", hook_base_url=base, secret=settings.HOOK_SECRET) as running:
        yield running


def test_a_publish_with_the_right_key_opens_and_then_closes_a_session(origin, stream_and_key, client):
    _, key = stream_and_key
    ffmpeg = publish_test_source(origin.rtmp_url("alice", key), seconds=6)
    try:
        eventually(lambda: StreamSession.objects.filter(ended_at__isnull=True).exists(), 10, "session opens")
        assert client.get("/api/v1/streams").json()[0]["live"] is True
        _, stderr = ffmpeg.communicate(timeout=20)
        assert ffmpeg.returncode == 0, stderr.decode(errors="replace")
        eventually(lambda: StreamSession.objects.filter(ended_at__isnull=False).exists(), 10, "session closes")
    finally:
        stop_process(ffmpeg)
    session = StreamSession.objects.get()
    assert (session.origin, session.publisher_ip, session.end_reason) == (
        "nginx-rtmp",
        "127.0.0.1",
        "unpublish",
    )
    assert client.get("/api/v1/streams").json()[0]["live"] is False


def test_the_origin_itself_refuses_a_publish_with_a_wrong_key(origin, stream_and_key):
    ffmpeg = publish_test_source(origin.rtmp_url("alice", "sk_wrong"), seconds=6)
    try:
        ffmpeg.communicate(timeout=20)
    finally:
        stop_process(ffmpeg)
    assert ffmpeg.returncode != 0, "ffmpeg should fail when the origin drops the publisher"
    assert not StreamSession.objects.exists()
    log = origin.error_log()
    assert "notify: publish" in log and "args='key=sk_wrong'" in log


def test_a_second_publisher_is_refused_while_the_first_is_live(origin, stream_and_key):
    _, key = stream_and_key
    first = publish_test_source(origin.rtmp_url("alice", key), seconds=8)
    try:
        eventually(lambda: StreamSession.objects.filter(ended_at__isnull=True).exists(), 10, "first goes live")
        second = publish_test_source(origin.rtmp_url("alice", key), seconds=3)
        try:
            second.communicate(timeout=20)
        finally:
            stop_process(second)
        assert second.returncode != 0
        assert StreamSession.objects.count() == 1
    finally:
        stop_process(first)
