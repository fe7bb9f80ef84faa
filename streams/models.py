from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

# Publish URL convention (DESIGN.md): rtmp://origin/live/<stream-slug>?key=<stream key>
PUBLISH_APP = "live"


class Stream(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="streams")
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    # Only the digest of the stream key is stored; the key itself is shown once (create/rotate).
    key_hash = models.CharField(max_length=64, editable=False)
    key_hint = models.CharField(max_length=8, editable=False, help_text="Last characters of the key.")
    key_rotated_at = models.DateTimeField(editable=False)
    reward_rate_per_hour = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Reward pool per fully live hour, shared by the nodes that relay it.",
    )
    is_active = models.BooleanField(default=True, help_text="Inactive streams are refused at publish.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(condition=Q(reward_rate_per_hour__gte=0), name="stream_reward_rate_not_negative"),
        ]

    def __str__(self) -> str:
        return self.slug

    def rtmp_url(self) -> str:
        return settings.ORIGIN_RTMP_URL.format(app=PUBLISH_APP, stream=self.slug)

    def origin_hls_url(self) -> str:
        return settings.ORIGIN_HLS_URL.format(app=PUBLISH_APP, stream=self.slug)

    def origin_hls_url_internal(self) -> str:
        """Where the coordinator itself reads the origin's HLS (spot-checks): a private address in a
        deployment, so checks never depend on the public name and TLS proxy."""
        return (settings.ORIGIN_HLS_INTERNAL_URL or settings.ORIGIN_HLS_URL).format(app=PUBLISH_APP, stream=self.slug)


class Origin(models.TextChoices):
    SRS = "srs", "SRS"
    NGINX_RTMP = "nginx-rtmp", "nginx-rtmp"


class StreamSession(models.Model):
    """One publish of a stream at the origin, from on_publish to on_unpublish."""

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="sessions")
    origin = models.CharField(max_length=16, choices=Origin.choices)
    client_id = models.CharField(max_length=64, help_text="The origin's id for the publishing connection.")
    server_id = models.CharField(max_length=64, blank=True)
    publisher_ip = models.GenericIPAddressField(null=True, blank=True)
    started_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=32, blank=True)
    # Newest sign of life from the origin for this publish (nginx-rtmp on_update, SRS on_hls).
    last_signal_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # The database, not only the service, guarantees one live session per stream.
            models.UniqueConstraint(
                fields=["stream"], condition=Q(ended_at__isnull=True), name="one_live_session_per_stream"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stream.slug} @ {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def is_live(self) -> bool:
        return self.ended_at is None


class StreamViewer(models.Model):
    """One playing connection reported by the origin's play/stop hooks: relays' own pulls as much
    as people (diagnostics only; the viewer counts the site shows are ``Watcher`` rows)."""

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="viewers")
    session = models.ForeignKey(StreamSession, on_delete=models.CASCADE, related_name="viewers")
    client_id = models.CharField(max_length=64)
    viewer_ip = models.GenericIPAddressField(null=True, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stream", "client_id"],
                condition=Q(ended_at__isnull=True),
                name="one_open_viewer_per_client",
            ),
        ]
        indexes = [models.Index(fields=["stream", "ended_at"], name="viewer_stream_open_idx")]

    def __str__(self) -> str:
        return f"{self.stream.slug} viewer {self.client_id}"


class Watcher(models.Model):
    """A person watching: one playback ticket whose watch page reported loading new segments lately
    (validation checks the ticket and the report). Every viewer count the site shows counts these."""

    ticket = models.CharField(max_length=32, unique=True)
    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="watchers")
    session = models.ForeignKey(StreamSession, on_delete=models.CASCADE, related_name="+")
    viewer = models.CharField(max_length=64, blank=True, help_text="The client's address (IPv6: its /64).")
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    newest_segment = models.CharField(max_length=400, help_text="The newest segment the last report named.")

    class Meta:
        indexes = [models.Index(fields=["stream", "last_seen"], name="watcher_stream_recent_idx")]

    def __str__(self) -> str:
        return f"{self.stream_id} watcher {self.ticket}"


class OriginMinute(models.Model):
    """A minute in which the origin showed it carried the stream: a publish, a periodic hook
    (nginx on_update, SRS on_hls) or a readable sample of its HLS. Pools pay only these minutes."""

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stream", "minute"], name="one_origin_minute_per_stream")]

    def __str__(self) -> str:
        return f"{self.stream_id} alive {self.minute:%Y-%m-%d %H:%M}"
