"""Reading a heartbeat's JSON body quickly, without changing what is accepted.

DRF's ``HeartbeatSerializer`` costs ~0.65 ms a beat, a large part of the heartbeat's budget.
``read`` takes the body an agent actually sends (plain JSON types, nothing to coerce) in a few
microseconds and returns None for anything else; the serializer then decides, with its error
messages. So the serializer stays the one definition of the schema: ``read`` accepts only
bodies the serializer accepts, with the same values (``nodes/tests/test_heartbeat_body.py``).
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ValidationError

from nodes.serializers import BIG, REFUSAL_TTL, VERDICT_TTL, HeartbeatSerializer, PublicURLField
from nodes.services import Heartbeat

# (url, private allowed) -> (valid until, valid): the agent sends its URL with every beat, so a URL
# is checked (its host resolved and vetted: serializers.check_public_url) once per TTL, not per beat.
_checked_urls: dict[tuple[str, bool], tuple[float, bool]] = {}


def read(data: object) -> Heartbeat | None:
    """The heartbeat in ``data`` when it is plainly valid, else None (ask the serializer)."""
    if not isinstance(data, dict):
        return None
    counters, relay = data.get("counters"), data.get("relay")
    if not isinstance(counters, dict) or not isinstance(relay, dict):
        return None
    seq = _integer(data.get("seq"), 1)
    bytes_served = _integer(counters.get("bytes_served"), -BIG)
    segments_served = _integer(counters.get("segments_served"), -BIG)
    http_requests = _integer(counters.get("http_requests"), -BIG)
    viewers = _integer(data.get("viewers"), -BIG)
    session = _text(data.get("agent_session"), 64, blank=False)
    stream = _text(data.get("stream", ""), 64, blank=True, null=True)
    version = _text(data.get("agent_version", ""), 32, blank=True)
    started = _moment(data.get("session_started_at"))
    running = relay.get("ffmpeg_running")
    has_age, age = _age(relay.get("newest_segment_age", _MISSING))
    public_url = data.get("public_url")
    if (
        seq is None
        or bytes_served is None
        or segments_served is None
        or http_requests is None
        or viewers is None
        or session is None
        or stream is None
        or version is None
        or started is None
        or not isinstance(running, bool)
        or not has_age
        or not (public_url is None or _valid_url(public_url))
    ):
        return None
    return Heartbeat(
        seq=seq,
        agent_session=session,
        session_started_at=started,
        bytes_served=bytes_served,
        segments_served=segments_served,
        http_requests=http_requests,
        viewers=viewers,
        ffmpeg_running=running,
        newest_segment_age=age,
        agent_version=version,
        stream=stream,
        public_url=public_url,
    )


def from_serializer(data: object) -> tuple[Heartbeat | None, dict[str, Any]]:
    """The serializer's verdict: the heartbeat, or None and the field errors."""
    form = HeartbeatSerializer(data=data)
    if not form.is_valid():
        return None, dict(form.errors)
    valid: dict[str, Any] = form.validated_data
    beat = Heartbeat(
        seq=valid["seq"],
        agent_session=valid["agent_session"],
        session_started_at=valid["session_started_at"],
        bytes_served=valid["counters"]["bytes_served"],
        segments_served=valid["counters"]["segments_served"],
        http_requests=valid["counters"]["http_requests"],
        viewers=valid["viewers"],
        ffmpeg_running=valid["relay"]["ffmpeg_running"],
        newest_segment_age=valid["relay"]["newest_segment_age"],
        agent_version=valid["agent_version"],
        stream=valid.get("stream") or "",
        public_url=valid.get("public_url"),
    )
    return beat, {}


_MISSING = object()


def _integer(value: object, least: int) -> int | None:
    if type(value) is not int or not least <= value <= BIG:
        return None
    return value


def _text(value: object, longest: int, *, blank: bool, null: bool = False) -> str | None:
    """A string DRF's CharField keeps as it is: printable ASCII, nothing to trim."""
    if value is None and null:
        return ""
    if type(value) is not str or len(value) > longest or (not value and not blank):
        return None
    if value and (not value.isascii() or not value.isprintable() or value.strip() != value):
        return None
    return value


def _moment(value: object) -> datetime | None:
    """An ISO 8601 time with its offset (what the agent sends), in UTC as DRF gives it."""
    if type(value) is not str or not 10 < len(value) <= 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None or settings.TIME_ZONE != "UTC":
            return None
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # year 1 at +01:00 has no UTC: the serializer says so
        return None


def _age(value: object) -> tuple[bool, float | None]:
    """(plainly valid, the age): a finite number in range, or null."""
    if value is None:
        return True, None
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False, None
    if not -1e9 <= value <= 1e9 or not math.isfinite(value):  # the range first: a 400-digit int
        return False, None  # overflows isfinite()
    return True, float(value)


def _valid_url(value: object) -> bool:
    """The serializer's own URL field decides, once per URL (and setting) and TTL."""
    if _text(value, 200, blank=False) is None:  # as DRF keeps it: nothing to trim
        return False
    assert isinstance(value, str)
    key = (value, settings.NODE_ALLOW_PRIVATE_URLS)
    now = time.monotonic()
    known = _checked_urls.get(key)
    if known is not None and known[0] > now:
        return known[1]
    try:
        PublicURLField(on_heartbeat=True).run_validation(value)
        valid = True
    except ValidationError:
        valid = False
    if len(_checked_urls) > 50_000:
        _checked_urls.clear()
    _checked_urls[key] = (now + (VERDICT_TTL if valid else REFUSAL_TTL), valid)
    return valid
