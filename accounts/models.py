from __future__ import annotations

from django.conf import settings
from django.db import models


class Invite(models.Model):
    """A one-time sign-up link: only the token's digest is stored; the link is shown once."""

    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="invite"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invite for {self.email}"


class NotificationSettings(models.Model):
    """Which emails a person gets; every kind is on until they turn it off (a missing row means
    all on)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    node_offline = models.BooleanField(default=True, help_text="A node of mine is offline over 10 minutes.")
    node_penalties = models.BooleanField(default=True, help_text="A node of mine failed a check or was suspended.")
    payouts = models.BooleanField(default=True, help_text="A payout of mine changed state.")
    payouts_waiting = models.BooleanField(default=True, help_text="Admins: payouts wait for approval.")
    # When this admin was last told payouts wait (claimed with a conditional update): at most one
    # such email per PAYOUTS_WAITING_NOTIFY_MINUTES, however many requests arrive.
    payouts_waiting_sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return f"notifications of {self.user_id}"
