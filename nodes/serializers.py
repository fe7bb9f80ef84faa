from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from rest_framework import serializers

from nodes.models import Node

BIG = 2**62  # counters beyond this are not numbers a real agent sends


def check_public_url(value: str) -> None:
    """http(s) only; in production no loopback or private address: the spot-checker fetches it."""
    try:
        parts = urlsplit(value)
    except ValueError:  # "http://[::1": an unclosed IPv6 address
        raise serializers.ValidationError("Enter a valid URL.") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise serializers.ValidationError("Use an http:// or https:// URL.")
    if settings.NODE_ALLOW_PRIVATE_URLS:
        return
    host = parts.hostname.lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            raise serializers.ValidationError("Use an address viewers can reach, not a local name.") from None
        return
    if not address.is_global:
        raise serializers.ValidationError("Use a public address, not a private or loopback one.")


class PublicURLField(serializers.URLField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=200, validators=[check_public_url], **kwargs)


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
    public_url = PublicURLField(required=False, allow_null=True)
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


class NodeStateSerializer(serializers.ModelSerializer[Node]):
    node_id = serializers.IntegerField(source="pk")
    status = serializers.CharField()
    assignment = serializers.SerializerMethodField()

    class Meta:
        model = Node
        fields = ["node_id", "name", "public_url", "approval", "status", "last_seen_at", "assignment"]

    def get_assignment(self, node: Node) -> str | None:
        return node.assigned_stream.slug if node.assigned_stream else None
