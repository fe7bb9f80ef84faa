from __future__ import annotations

from typing import Any

from rest_framework import serializers

from nodes.models import Node

BIG = 2**62  # counters beyond this are not numbers a real agent sends


class RegisterSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(max_length=100)
    name = serializers.CharField(max_length=64)
    public_url = serializers.URLField(max_length=200, help_text="Base URL viewers use to reach this node.")


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
    newest_segment_age = serializers.FloatField(allow_null=True, min_value=-1e9, max_value=1e9)


class HeartbeatSerializer(serializers.Serializer[Any]):
    seq = serializers.IntegerField(min_value=1, max_value=BIG, help_text="Increases with every heartbeat.")
    agent_session = serializers.CharField(max_length=64, help_text="Random per agent start; resets counters.")
    stream = serializers.CharField(
        max_length=64, allow_blank=True, allow_null=True, required=False, default=""
    )
    public_url = serializers.URLField(max_length=200, required=False, allow_null=True)
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
