"""Exit 0 when a django-q2 cluster reports itself alive to the broker (the worker's healthcheck)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django_q.brokers import get_broker
from django_q.status import Stat


class Command(BaseCommand):
    help = "Check that a django-q2 cluster is running (for container health checks)."

    def handle(self, *args: Any, **options: Any) -> None:
        clusters = Stat.get_all(broker=get_broker())
        if not clusters:
            raise CommandError("no django-q2 cluster has reported to the broker")
        self.stdout.write(f"{len(clusters)} cluster(s): " + ", ".join(f"{c.cluster_id} {c.status}" for c in clusters))
