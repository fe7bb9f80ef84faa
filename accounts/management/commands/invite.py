from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services


class Command(BaseCommand):
    help = "Create a one-time sign-up link for EMAIL (printed once; set SITE_URL to the public address)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            invite, link = services.create_invite(options["email"])
        except services.InviteError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Invite for {invite.email}, valid until {invite.expires_at:%Y-%m-%d %H:%M} UTC:\n{link}")
