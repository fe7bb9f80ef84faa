from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from rewards import services


class Command(BaseCommand):
    help = "Settle one closed hour (--hour 2026-11-25T13:00Z), or every closed hour not settled yet, however old."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--hour", default=None, help="ISO 8601 start of the hour, e.g. 2026-11-25T13:00:00Z.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["hour"] is None:
            done = services.settle_due()
        else:
            try:
                hour = datetime.fromisoformat(options["hour"].replace("Z", "+00:00"))
            except ValueError:
                raise CommandError(f"--hour must be ISO 8601, got {options['hour']!r}") from None
            if timezone.is_naive(hour):
                hour = timezone.make_aware(hour, UTC)
            try:
                done = services.settle_hour(hour)
            except services.SettlementError as exc:
                raise CommandError(exc.message) from None
        for settlement in done:
            self.stdout.write(
                f"{settlement.stream.slug} {settlement.hour:%Y-%m-%d %H:00}: live {settlement.live_seconds} s, "
                f"pool {settlement.pool}, credited {settlement.credited} to {settlement.nodes} node(s)"
            )
        if not done:
            self.stdout.write("Nothing to settle.")
