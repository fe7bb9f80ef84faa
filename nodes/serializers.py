from __future__ import annotations

import random
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core import netguard
from nodes.models import Node

BIG = 2**62  # counters beyond this are not numbers a real agent sends
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".lan")  # names that are never public


# Verdicts on a URL's host, reused for a while: the agent sends its URL with every heartbeat, and
# a lookup per beat would cost more than the beat. A passed host is vetted again after
# VERDICT_TTL (a stored URL changing its DNS is caught here and, at every connection, by the
# checker's own vetting: validation/fetching.py); refusals are retried sooner.
VERDICT_TTL = 600.0
REFUSAL_TTL = 60.0
_verdicts: dict[tuple[str, int], tuple[float, str | None, bool]] = {}  # (host, port) -> (until, refusal, unresolved)


def _host_verdict(host: str, port: int) -> tuple[str | None, bool]:
    """(why the host is refused or None, whether it did not resolve), cached per (host, port)."""
    key = (host.lower().rstrip("."), port)
    now = time.monotonic()
    cached = _verdicts.get(key)
    if cached is not None and cached[0] > now:
        return cached[1], cached[2]
    refusal: str | None = None
    unresolved = False
    try:
        netguard.resolve_vetted(host, port, allow_private=False)
    except netguard.UnsafeAddress:
        refusal = "Use a public address: this one is (or resolves to) a loopback, private or other internal address."
    except netguard.Unresolvable:
        refusal = "This host name does not resolve: use a name (or address) viewers can reach."
        unresolved = True
    ttl = REFUSAL_TTL if refusal else VERDICT_TTL
    if len(_verdicts) > 50_000:
        _verdicts.clear()
    _verdicts[key] = (now + ttl * random.uniform(0.9, 1.0), refusal, unresolved)  # noqa: S311  (jitter)
    return refusal, unresolved


def check_public_url(value: str, *, unresolved_ok: bool = False) -> None:
    """http(s) only; in production only a host whose every address is public (core.netguard):
    the spot-checker fetches this URL from inside our network.

    ``unresolved_ok`` (heartbeats): a name that does not resolve right now passes. The node's
    registration resolved it, a DNS outage must not refuse every heartbeat, and nothing connects
    to it unvetted: the checker vets the addresses again at every connection."""
    try:
        parts = urlsplit(value)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # "http://[::1": an unclosed IPv6 address; a port out of range
        raise serializers.ValidationError("Enter a valid URL.") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise serializers.ValidationError("Use an http:// or https:// URL.")
    if settings.NODE_ALLOW_PRIVATE_URLS:
        return
    name = parts.hostname.rstrip(".")  # "metadata.google.internal." is metadata.google.internal
    if name == "localhost" or name.endswith(LOCAL_SUFFIXES):
        # Internal by definition, whatever they resolve to here today (mDNS, split-horizon DNS).
        raise serializers.ValidationError("Use an address viewers can reach, not a local name.")
    refusal, unresolved = _host_verdict(parts.hostname, port)
    if refusal and not (unresolved and unresolved_ok):
        raise serializers.ValidationError(refusal)


def check_heartbeat_url(value: str) -> None:
    check_public_url(value, unresolved_ok=True)


class PublicURLField(serializers.URLField):
    def __init__(self, *, on_heartbeat: bool = False, **kwargs: Any) -> None:
        check = check_heartbeat_url if on_heartbeat else check_public_url
        super().__init__(max_length=200, validators=[check], **kwargs)


class StrictFloatField(serializers.FloatField):
    """A number, not a boolean (DRF would take true as 1.0)."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        try:
            return super().to_internal_value(data)
        except OverflowError:  # an integer of hundreds of digits has no float
            self.fail("invalid")


class RegisterSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(max_length=100)
    name = serializers.CharField(max_length=64)
    public_url = PublicURLField(help_text="Base URL viewers use to reach this node.")


class RegisteredSerializer(serializers.Serializer[Any]):
    node_id = serializers.IntegerField()
    api_key = serializers.CharField(help_text="Shown once; send as 'Authorization: Bearer <api_key>'.")
    approval = serializers.CharField()
    heartbeat_interval = serializers.IntegerField()


class CountersSerializer(serializers.Serializer[Any]):
    bytes_served = serializers.IntegerField(min_value=-BIG, max_value=BIG)
    segments_served = serializers.IntegerField(min_value=-BIG, max_value=BIG)
    http_requests = serializers.IntegerField(min_value=-BIG, max_value=BIG)


class RelaySerializer(serializers.Serializer[Any]):
    ffmpeg_running = serializers.BooleanField()
    newest_segment_age = StrictFloatField(allow_null=True, min_value=-1e9, max_value=1e9)


class HeartbeatSerializer(serializers.Serializer[Any]):
    seq = serializers.IntegerField(min_value=1, max_value=BIG, help_text="Increases with every heartbeat.")
    agent_session = serializers.CharField(max_length=64, help_text="Random per agent start; resets counters.")
    session_started_at = serializers.DateTimeField(help_text="When this agent session started (orders sessions).")
    stream = serializers.CharField(max_length=64, allow_blank=True, allow_null=True, required=False, default="")
    public_url = PublicURLField(on_heartbeat=True, required=False, allow_null=True)
    counters = CountersSerializer(help_text="Totals since the agent started (monotonic).")
    viewers = serializers.IntegerField(min_value=-BIG, max_value=BIG)
    relay = RelaySerializer()
    agent_version = serializers.CharField(max_length=32, allow_blank=True, required=False, default="")


class AssignmentSerializer(serializers.Serializer[Any]):
    stream = serializers.CharField()
    origin_rtmp_url = serializers.CharField()


class HeartbeatAnswerSerializer(serializers.Serializer[Any]):
    accepted = serializers.BooleanField(help_text="False for a duplicate or old sequence number.")
    assignment = AssignmentSerializer(allow_null=True)
    next_heartbeat_in = serializers.IntegerField(help_text="Seconds.")
    approval = serializers.CharField()
    clamped = serializers.ListField(child=serializers.CharField())


class ReachabilityStateSerializer(serializers.Serializer[Any]):
    ok = serializers.BooleanField(help_text="Whether the site reached the node's /healthz from outside.")
    verdict = serializers.CharField(help_text="ok, refused, timeout, no_dns, not_public, wrong_node, … or unknown.")
    detail = serializers.CharField(help_text="What was found, with advice in plain words.")
    checked_at = serializers.DateTimeField(allow_null=True)


class EarningStateSerializer(serializers.Serializer[Any]):
    ok = serializers.BooleanField(help_text="Whether the node earns right now.")
    why = serializers.CharField(help_text="Otherwise the first reason, in plain words.")


# What the answer says while no app above has said anything (and of a never-probed node).
UNKNOWN_STATE: dict[str, dict[str, Any]] = {
    "reachability": {"ok": False, "verdict": "unknown", "detail": "not checked yet", "checked_at": None},
    "earning": {"ok": False, "why": "not known yet"},
}


class NodeStateSerializer(serializers.ModelSerializer[Node]):
    """The node's own state. ``context["state"]``: what the apps above added (nodes.signals.
    node_state_requested), each part normalized by its declared serializer."""

    node_id = serializers.IntegerField(source="pk")
    status = serializers.CharField()
    assignment = serializers.SerializerMethodField()
    reachability = serializers.SerializerMethodField()
    earning = serializers.SerializerMethodField()

    class Meta:
        model = Node
        fields = [
            "node_id",
            "name",
            "public_url",
            "approval",
            "status",
            "last_seen_at",
            "assignment",
            "reachability",
            "earning",
        ]

    def get_assignment(self, node: Node) -> str | None:
        return node.assigned_stream.slug if node.assigned_stream else None

    def _state(self, name: str) -> Any:
        return self.context.get("state", {}).get(name) or UNKNOWN_STATE[name]

    @extend_schema_field(ReachabilityStateSerializer)
    def get_reachability(self, node: Node) -> dict[str, Any]:
        return dict(ReachabilityStateSerializer(self._state("reachability")).data)

    @extend_schema_field(EarningStateSerializer)
    def get_earning(self, node: Node) -> dict[str, Any]:
        return dict(EarningStateSerializer(self._state("earning")).data)
