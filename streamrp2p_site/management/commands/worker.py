"""The production worker tier: the django-q2 cluster (schedules, spot-checks, settlement, payouts)."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the django-q2 worker cluster in the foreground (Q_WORKERS processes)."

    def handle(self, *args: Any, **options: Any) -> None:
        manage = str(settings.BASE_DIR / "manage.py")
        os.execv(sys.executable, [sys.executable, manage, "qcluster"])  # noqa: S606  (signals reach the cluster)
