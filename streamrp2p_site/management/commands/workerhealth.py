"""Exit 0 when a django-q2 cluster reports itself alive to the broker (the worker's healthcheck)."""

from __future__ import annotations

import socket
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django_q.brokers import get_broker
from django_q.status import Stat


class Command(BaseCommand):
    help = "Check that a django-q2 cluster is running (for container health checks)."

    def handle(self, *args: Any, **options: Any) -> None:
        here = socket.gethostname()  # in a container: its id, so each replica checks its own cluster
        clusters = [c for c in Stat.get_all(broker=get_broker()) if c.host == here]
        if not clusters:
            raise CommandError(f"no django-q2 cluster on {here} has reported to the broker")
        self.stdout.write(f"{len(clusters)} cluster(s): " + ", ".join(f"{c.cluster_id} {c.status}" for c in clusters))
