from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from streams.models import Stream


class EnrollmentToken(models.Model):
    """A one-time token a friend gives `streamr-node register`; only its digest is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollment_tokens")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    node = models.OneToOneField("Node", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"token of {self.user} ({'used' if self.used_at else 'unused'})"


class NodeStatus(models.TextChoices):
    ONLINE = "online", "online"
    STALE = "stale", "stale"
    OFFLINE = "offline", "offline"


class Approval(models.TextChoices):
    PENDING = "pending", "waiting for approval"
    APPROVED = "approved", "approved"
    SUSPENDED = "suspended", "suspended"


class Node(models.Model):
    # PROTECT: deleting an account would take its nodes' spot-checks and minute buckets (the
    # evidence behind what was paid) with it; deactivate the account instead.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="nodes")
    name = models.CharField(max_length=64)
    public_url = models.URLField(max_length=200, help_text="Where viewers reach the node's HLS.")
    api_key_hash = models.CharField(max_length=64, unique=True, editable=False)
    api_key_hint = models.CharField(max_length=8, editable=False)
    approval = models.CharField(max_length=16, choices=Approval.choices, default=Approval.APPROVED)
    created_at = models.DateTimeField(auto_now_add=True)

    # Liveness: deadlines stored at each heartbeat, so "who is online" is a comparison. Not indexed:
    # every heartbeat moves them, and an indexed column changing makes each beat's UPDATE write a
    # new entry into every index of the table; without, PostgreSQL updates the row in place (HOT,
    # with the free space migration 0004 leaves in each page). "Online" is most nodes anyway.
    heartbeat_interval = models.PositiveIntegerField(default=10)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    stale_after = models.DateTimeField(null=True, blank=True)
    offline_after = models.DateTimeField(null=True, blank=True)
    # Set when its owner was told it is offline (cleared by its next heartbeat): told once per outage.
    offline_notified_at = models.DateTimeField(null=True, blank=True)

    # What the agent said in its newest accepted heartbeat (counters are totals of its session).
    agent_session = models.CharField(max_length=64, blank=True)
    agent_session_started_at = models.DateTimeField(null=True, blank=True)
    agent_version = models.CharField(max_length=32, blank=True)
    last_seq = models.BigIntegerField(default=0)
    bytes_served_total = models.BigIntegerField(default=0)
    segments_served_total = models.BigIntegerField(default=0)
    http_requests_total = models.BigIntegerField(default=0)
    viewers = models.PositiveIntegerField(default=0)
    relaying_slug = models.CharField(max_length=64, blank=True)
    relay_running = models.BooleanField(default=False)
    newest_segment_age = models.FloatField(null=True, blank=True)
    # The address the public host resolved to at the node's last spot-check: nodes behind one
    # address share one uptime share per stream-minute (one machine, one uplink).
    endpoint = models.CharField(max_length=45, blank=True, help_text="Resolved address of the public host.")
    anomalies = models.PositiveIntegerField(default=0, help_text="Heartbeat values clamped so far.")
    last_anomaly = models.CharField(max_length=200, blank=True)
    last_anomaly_at = models.DateTimeField(null=True, blank=True)

    # Assignment: the live stream this node should relay (see nodes/assignment.py for the policy).
    assigned_stream = models.ForeignKey(
        Stream, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_nodes"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    pinned_stream = models.ForeignKey(
        Stream,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="pinned_nodes",
        help_text="Relay only this stream (the one its owner supports); empty: any live stream.",
    )

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"

    def status_at(self, now: datetime) -> NodeStatus:
        if self.stale_after is not None and now < self.stale_after:
            return NodeStatus.ONLINE
        if self.offline_after is not None and now < self.offline_after:
            return NodeStatus.STALE
        return NodeStatus.OFFLINE

    @property
    def status(self) -> NodeStatus:
        return self.status_at(timezone.now())

    def hls_url(self, slug: str) -> str:
        return f"{self.public_url.rstrip('/')}/hls/{slug}/index.m3u8"


class NodeMinute(models.Model):
    """One node's activity in one minute: the only table heartbeats write to besides Node."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="minutes")
    minute = models.DateTimeField()
    stream = models.ForeignKey(Stream, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    heartbeats = models.PositiveIntegerField(default=0)
    healthy_heartbeats = models.PositiveIntegerField(default=0, help_text="Relay running, fresh segments.")
    bytes_served = models.BigIntegerField(default=0)
    segments_served = models.BigIntegerField(default=0)
    http_requests = models.BigIntegerField(default=0)
    max_viewers = models.PositiveIntegerField(default=0)
    clamped = models.PositiveIntegerField(default=0, help_text="Values clamped as impossible.")

    class Meta:
        ordering = ["-minute"]
        constraints = [models.UniqueConstraint(fields=["node", "minute"], name="one_bucket_per_node_minute")]
        indexes = [models.Index(fields=["minute"], name="nodeminute_minute_idx")]

    def __str__(self) -> str:
        return f"{self.node_id} @ {self.minute:%Y-%m-%d %H:%M}"


def online_q(now: datetime) -> Q:
    return Q(stale_after__gt=now)


def endpoint_key(endpoint: str, public_url: str) -> str:
    """What makes two nodes one machine: the resolved address, else the URL's host as written
    (most friends give an IP address, which needs no resolving)."""
    return endpoint or (urlsplit(public_url).hostname or "").lower()
