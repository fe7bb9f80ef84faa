"""The kernel's one table: live pushes on their way from a worker process to the web process when
there is no Redis (``core/live_outbox.py``). Rows live for seconds."""

from __future__ import annotations

from django.db import models


class LiveOutboxMessage(models.Model):
    """One channel-layer message written by a process that cannot reach the web process's in-memory
    layer; the web process sends it on and a prune removes it within ``live_outbox.KEEP_SECONDS``."""

    created_at = models.DateTimeField(db_index=True)
    group = models.CharField(max_length=200)
    message = models.JSONField()

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.group} {self.message.get('kind', '')}"
