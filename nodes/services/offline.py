"""Telling owners that a node went offline: once per outage, never from the heartbeat path.

A scheduled job (``nodes.tasks.notify_offline_nodes``, every minute) finds nodes whose heartbeats
stopped over NODE_OFFLINE_NOTIFY_MINUTES ago and whose owner was not told yet, claims each with a
conditional update (two workers never both tell), and emails the owner (``accounts.notifications``,
after commit). A node that heartbeats again after being told moves its ``offline_after`` past
``offline_notified_at``; the job then clears the mark, so its next outage is told again. The
heartbeat path stays untouched (it writes neither column's condition: only its deadlines).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from accounts import notifications
from nodes.models import Node

log = logging.getLogger(__name__)

# Outages older than this are not told (a job that was down, a site deployed with long-gone nodes):
# an email about a node that went away days ago tells nobody anything.
TELL_WITHIN = timedelta(days=1)


def notify_offline(now: datetime | None = None) -> int:
    """Tell the owners of nodes offline for over NODE_OFFLINE_NOTIFY_MINUTES; returns how many."""
    now = now or timezone.now()
    # Back since their owner was told: the next outage is a new one.
    Node.objects.filter(offline_notified_at__isnull=False, offline_after__gt=F("offline_notified_at")).update(
        offline_notified_at=None
    )
    threshold = now - timedelta(minutes=settings.NODE_OFFLINE_NOTIFY_MINUTES)
    gone = Node.objects.filter(
        offline_notified_at__isnull=True, offline_after__lte=threshold, offline_after__gt=now - TELL_WITHIN
    )
    told = 0
    for node in gone.select_related("owner").order_by("pk"):
        if not Node.objects.filter(pk=node.pk, offline_notified_at__isnull=True).update(offline_notified_at=now):
            continue  # another worker claimed it
        told += 1
        _tell(node, now)
    if told:
        log.info("told the owners of %d offline node(s)", told)
    return told


def _tell(node: Node, now: datetime) -> None:
    seen = node.last_seen_at
    since = f"since {seen:%Y-%m-%d %H:%M} UTC" if seen else "for a while"
    minutes = int((now - seen).total_seconds() // 60) if seen else None
    me = settings.SITE_URL.rstrip("/") + reverse("me")
    notifications.notify(
        node.owner,
        notifications.NODE_OFFLINE,
        f"Your node {node.name} is offline",
        f"Your node {node.name} has sent no heartbeat {since}"
        + (f" ({minutes} minutes)" if minutes is not None else "")
        + ". While it is offline it relays nothing and earns nothing.\n\n"
        "Is the computer on and `streamr-node run` still running? `streamr-node doctor` checks the usual causes.\n"
        f"You will not get another email about this until it has come back.\n{me}",
    )
