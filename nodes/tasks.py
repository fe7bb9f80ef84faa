"""django-q2 jobs of nodes (scheduled by migration 0006): telling owners their node is offline."""

from __future__ import annotations

from nodes.services import offline


def notify_offline_nodes() -> int:
    """Every minute: email the owners of nodes offline for over NODE_OFFLINE_NOTIFY_MINUTES, once per outage."""
    return offline.notify_offline()
