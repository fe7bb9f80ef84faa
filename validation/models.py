from __future__ import annotations

from django.conf import settings
from django.db import models

from nodes.models import Node
from streams.models import Stream


class Outcome(models.TextChoices):
    PASS = "pass", "pass"
    UNREACHABLE = "unreachable", "unreachable"
    TIMEOUT = "timeout", "timeout"
    STALE = "stale", "stale (old frames)"
    MISMATCH = "mismatch", "mismatch (not this stream)"
    REDIRECT = "redirect", "redirect"
    BAD_MEDIA = "bad_media", "bad media"
    CLOAKED = "cloaked", "cloaked (viewers were sent other bytes)"
    # The node's URL names (or resolves to) an internal address: the checker does not connect, and
    # the failure counts at once (no "confirm a minute later" as for unreachable: no flood causes it).
    NOT_PUBLIC = "not_public", "not public (the node's address is internal)"


class SpotCheck(models.Model):
    """One verdict on whether a node served the live stream when asked, with its evidence."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="spot_checks")
    stream = models.ForeignKey(Stream, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    checked_at = models.DateTimeField(db_index=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    overlap = models.FloatField(null=True, blank=True, help_text="Share of the node's frames in the live window.")
    latency_ms = models.PositiveIntegerField(help_text="How long the node took to serve the check (pauses left out).")
    node_frames = models.PositiveIntegerField(default=0)
    live_matches = models.PositiveIntegerField(default=0)
    stale_matches = models.PositiveIntegerField(default=0, help_text="Frames only in older origin windows.")
    trigger = models.CharField(max_length=16, default="schedule")
    evidence = models.JSONField(default=dict)
    # unreachable/timeout counts against a node only once a check a minute or more later confirms
    # it: a rival's short flood must not knock a friend's node out.
    provisional = models.BooleanField(default=False, help_text="Unconfirmed unreachable/timeout: counts for nothing.")

    class Meta:
        ordering = ["-checked_at"]
        indexes = [models.Index(fields=["node", "-checked_at"], name="spotcheck_node_recent_idx")]

    def __str__(self) -> str:
        return f"{self.node_id} {self.outcome} @ {self.checked_at:%H:%M:%S}"

    @property
    def passed(self) -> bool:
        return self.outcome == Outcome.PASS


class OriginFrame(models.Model):
    """Rolling history of the origin's frame fingerprints per stream (to tell stale from foreign)."""

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="+")
    fingerprint = models.BinaryField(max_length=16)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stream", "fingerprint"], name="one_origin_frame_per_print")]
        indexes = [models.Index(fields=["stream", "seen_at"], name="originframe_recent_idx")]

    def __str__(self) -> str:
        return f"{self.stream_id}: {bytes(self.fingerprint).hex()}"


class NodeTrust(models.Model):
    """A node's standing from its recent checks; K consecutive failures suspend it."""

    node = models.OneToOneField(Node, on_delete=models.CASCADE, related_name="trust")
    score = models.FloatField(default=0.5, help_text="0 (always failing) to 1 (always passing).")
    checks = models.PositiveIntegerField(default=0)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True, help_text="Suspended by failed checks.")

    def __str__(self) -> str:
        return f"trust of {self.node_id}: {self.score:.2f}"


class CheckDue(models.Model):
    """When a node is next spot-checked. Schedulers claim due rows with a conditional update (the
    deadline moves a lease ahead), so two workers never check the same node at once and a crashed
    worker's claims come back by themselves."""

    node = models.OneToOneField(Node, on_delete=models.CASCADE, primary_key=True, related_name="check_due")
    due_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"node {self.node_id} due {self.due_at:%H:%M:%S}"


class FlagKind(models.TextChoices):
    SYBIL = "sybil", "several nodes behind one relay host"
    BYTES_BEYOND_VIEWERS = "bytes_beyond_viewers", "bytes served beyond what viewers could draw"
    GAP_BURST = "gap_burst", "heartbeat gap papered over by a burst"


class FraudFlag(models.Model):
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="fraud_flags")
    kind = models.CharField(max_length=32, choices=FlagKind.choices)
    detected_at = models.DateTimeField(db_index=True)
    evidence = models.JSONField(default=dict)
    resolved = models.BooleanField(default=False)

    class Meta:
        ordering = ["-detected_at"]
        constraints = [
            # One open flag per node and kind: detectors run repeatedly without piling up rows.
            models.UniqueConstraint(
                fields=["node", "kind"], condition=models.Q(resolved=False), name="one_open_flag_per_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.node_id}: {self.kind}"


class AttestedMinute(models.Model):
    """What viewers holding playback tickets said they loaded from a node in one minute: the
    delivery that pays (never more than the node itself claimed for the hour)."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    bytes = models.BigIntegerField(default=0)
    segments = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["node", "stream", "minute"], name="one_attested_minute_per_node_stream")
        ]
        indexes = [models.Index(fields=["stream", "minute"], name="attested_stream_minute_idx")]

    def __str__(self) -> str:
        return f"{self.node_id}/{self.stream_id} {self.minute:%H:%M}: {self.bytes} B"


class DeliveredSegment(models.Model):
    """One viewer (one ticket) loaded one segment from one node, with the SHA-256 of its bytes:
    counted once per ticket, and kept for audits that fetch the same segment as a viewer would."""

    ticket = models.CharField(max_length=32)
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="+")
    url = models.CharField(max_length=400)  # a node URL (200) + /hls/ + slug (64) + / + name (100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    reported_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ticket", "url"], name="one_report_per_ticket_segment")]
        indexes = [models.Index(fields=["node", "-reported_at"], name="delivered_node_recent_idx")]

    def __str__(self) -> str:
        return f"{self.ticket} {self.url}"


class ReachabilityVerdict(models.TextChoices):
    """Why a probe of the node's ``/healthz`` from outside succeeded or failed (advice per value in
    ``validation/reachability.py``)."""

    OK = "ok", "reachable"
    REFUSED = "refused", "connection refused"
    TIMEOUT = "timeout", "timed out"
    NO_DNS = "no_dns", "name does not resolve"
    NOT_PUBLIC = "not_public", "address is internal"
    WRONG_NODE = "wrong_node", "another service answered"
    HTTP_ERROR = "http_error", "answered with an error"
    ERROR = "error", "could not connect"


class ReachabilityProbe(models.Model):
    """One fetch of a node's ``/healthz`` from outside, as a viewer would reach it (the newest per
    node is its reachability)."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="reachability_probes")
    checked_at = models.DateTimeField(db_index=True)
    url = models.CharField(max_length=300)
    ok = models.BooleanField()
    verdict = models.CharField(max_length=16, choices=ReachabilityVerdict.choices)
    detail = models.CharField(max_length=300, help_text="Plain words for the owner, with advice.")
    trigger = models.CharField(max_length=16, default="schedule")  # first_heartbeat, url_change, owner, …
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    staff_detail = models.TextField(blank=True, help_text="Exception text and status: admin only.")

    class Meta:
        ordering = ["-checked_at"]
        indexes = [models.Index(fields=["node", "-checked_at"], name="reach_node_recent_idx")]

    def __str__(self) -> str:
        return f"{self.node_id} {self.verdict} @ {self.checked_at:%H:%M:%S}"


class AppealOutcome(models.TextChoices):
    PENDING = "pending", "re-check running"
    REINSTATED = "reinstated", "re-check passed: node reinstated"
    UPHELD = "upheld", "re-check failed: suspension stands"
    # No verdict was possible (no live stream to check against, the stream ended mid-check): the
    # node stays suspended, and this appeal does not count against the next one's waiting time.
    NOT_CHECKED = "not_checked", "no re-check possible: try again later"


class Appeal(models.Model):
    """A suspended node's owner asks for another look: an immediate re-check decides, its evidence
    is kept, and admins see every appeal and its outcome."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="appeals")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(db_index=True)
    message = models.TextField(blank=True, max_length=2000)
    outcome = models.CharField(max_length=16, choices=AppealOutcome.choices, default=AppealOutcome.PENDING)
    recheck = models.ForeignKey(SpotCheck, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    detail = models.CharField(max_length=300, blank=True, help_text="The decision in plain words, for the owner.")

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # One open appeal per node: a second click waits for the first re-check.
            models.UniqueConstraint(
                fields=["node"], condition=models.Q(outcome="pending"), name="one_pending_appeal_per_node"
            )
        ]

    def __str__(self) -> str:
        return f"appeal of {self.node_id}: {self.outcome}"
