"""The quick body reader accepts only what the serializer accepts, with the same values."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from nodes import heartbeat_body
from nodes.tests.fixtures import beat_body

AGENT = beat_body(
    7,
    "3f0c9a",
    "2026-11-27T10:00:00.123456+00:00",
    stream="live-1",
    counters={"bytes_served": 123_456_789, "segments_served": 40, "http_requests": 41},
    viewers=3,
    relay={"ffmpeg_running": True, "newest_segment_age": 1.5},
    agent_version="0.3.0",
    public_url="http://relay.example:8090",
)


def changed(path: str, value: Any) -> dict[str, Any]:
    """The agent's body with one field set (``value`` ...) or removed (``...`` as value)."""
    body = copy.deepcopy(AGENT)
    *parents, name = path.split(".")
    target = body
    for parent in parents:
        target = target[parent]
    if value is ...:
        del target[name]
    else:
        target[name] = value
    return body


# Bodies the serializer accepts (some only after coercing: the reader hands those to it).
VALID = [
    AGENT,
    beat_body(1, "s1"),
    changed("stream", None),
    changed("stream", ...),
    changed("agent_version", ...),
    changed("public_url", None),
    changed("public_url", ...),
    changed("session_started_at", "2026-11-27T10:00:00Z"),
    changed("session_started_at", "2026-11-27T12:00:00+02:00"),
    changed("relay.newest_segment_age", 3),
    changed("relay.newest_segment_age", -2.5),
    changed("counters.bytes_served", -5),
    changed("viewers", 2**62),
    changed("seq", "12"),  # coerced by DRF
    changed("seq", 12.0),
    changed("relay.ffmpeg_running", "true"),
    changed("relay.ffmpeg_running", 1),
    changed("agent_session", " padded "),  # trimmed by DRF
    changed("stream", "x" * 64),
    changed("extra", {"ignored": True}),
]

INVALID = [
    [],
    "beat",
    changed("seq", 0),
    changed("seq", True),
    changed("seq", 2**62 + 1),
    changed("seq", ...),
    changed("agent_session", ""),
    changed("agent_session", "x" * 65),
    changed("agent_session", None),
    changed("session_started_at", "yesterday"),
    changed("session_started_at", 1700000000),
    changed("counters", None),
    changed("counters.segments_served", ...),
    changed("counters.http_requests", "many"),
    changed("viewers", 1.5),
    changed("relay", "on"),
    changed("relay.ffmpeg_running", None),
    changed("relay.newest_segment_age", ...),
    changed("relay.newest_segment_age", True),
    changed("relay.newest_segment_age", 1e10),
    changed("stream", "x" * 65),
    changed("agent_version", None),
    changed("agent_version", "v" * 33),
    changed("public_url", "ftp://relay.example"),
    changed("public_url", "http://10.0.0.5:8090"),
    changed("public_url", "http://relay.local:8090"),
    changed("public_url", ""),
    # Each of these once raised out of a parser (and failed every beat of its batch):
    changed("session_started_at", "0001-01-01T00:00:00+01:00"),
    changed("relay.newest_segment_age", 10**400),
    changed("public_url", "http://[::1"),
]


@pytest.mark.parametrize("body", VALID)
def test_the_reader_gives_the_serializers_values_or_asks_it(body):
    expected, errors = heartbeat_body.from_serializer(body)
    assert expected is not None, errors
    quick = heartbeat_body.read(body)
    assert quick is None or quick == expected


@pytest.mark.parametrize("body", INVALID)
def test_the_reader_never_takes_a_body_the_serializer_refuses(body, settings):
    settings.NODE_ALLOW_PRIVATE_URLS = False  # as in production
    beat, errors = heartbeat_body.from_serializer(body)
    assert beat is None and errors
    assert heartbeat_body.read(body) is None


def test_the_reader_takes_what_the_agent_sends_without_the_serializer():
    assert heartbeat_body.read(AGENT) == heartbeat_body.from_serializer(AGENT)[0]
    assert heartbeat_body.read(beat_body(1, "s1")) is not None


def test_a_private_address_is_refused_again_once_private_addresses_are_no_longer_allowed(settings):
    body = changed("public_url", "http://192.168.1.20:8090")
    settings.NODE_ALLOW_PRIVATE_URLS = True
    assert heartbeat_body.read(body) is not None
    settings.NODE_ALLOW_PRIVATE_URLS = False
    assert heartbeat_body.read(body) is None
