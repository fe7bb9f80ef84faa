from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from nodes import services


class Command(BaseCommand):
    help = "Create a one-time enrollment token for USERNAME's next node and print it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--hours", type=int, default=None, help="Validity (default: the setting, 24).")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user {options['username']!r}.")
        hours = options["hours"]
        if hours is not None and hours < 1:
            raise CommandError("--hours must be at least 1.")
        record, token = services.create_enrollment_token(user, ttl=timedelta(hours=hours) if hours else None)
        self.stdout.write(token)
        self.stderr.write(
            f"One-time token for {user.get_username()}, valid until {record.expires_at:%Y-%m-%d %H:%M} UTC."
        )
