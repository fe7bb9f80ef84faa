from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_slug

from streams import services


def parse_rate(value: str) -> Decimal:
    try:
        rate = Decimal(value)
    except InvalidOperation:
        raise CommandError(f"--rate must be an amount like 2.50, got {value!r}") from None
    if not rate.is_finite() or rate < 0:
        raise CommandError(f"--rate must be a non-negative amount, got {value!r}")
    try:
        exact = rate == rate.quantize(Decimal("0.01"))
    except InvalidOperation:  # too many digits to quantize, e.g. 1e30
        raise CommandError(f"--rate is too large, got {value!r}") from None
    if not exact:
        raise CommandError(f"--rate has at most 2 decimal places, got {value!r}")
    return rate


class Command(BaseCommand):
    help = "Create a stream and print its stream key (shown this once) and RTMP publish URL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="URL name of the stream, e.g. 'alice-live'.")
        parser.add_argument("--owner", required=True, help="Username of the streamer.")
        parser.add_argument("--rate", type=parse_rate, default=None, help="Reward pool per live hour, e.g. 2.50.")
        parser.add_argument("--title", default="", help="Display title (defaults to the slug).")

    def handle(self, *args: Any, **options: Any) -> None:
        slug: str = options["slug"]
        try:
            validate_slug(slug)
        except ValidationError:
            raise CommandError(f"{slug!r} is not a valid slug (letters, digits, - and _).") from None
        owner = get_user_model().objects.filter(username=options["owner"]).first()
        if owner is None:
            raise CommandError(f"No user {options['owner']!r}; create one with createsuperuser first.")
        try:
            stream, key = services.create_stream(
                owner=owner, slug=slug, title=options["title"], reward_rate_per_hour=options["rate"]
            )
        except services.StreamError as exc:
            raise CommandError(exc.message) from None
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"Created stream {stream.slug} ({stream.reward_rate_per_hour}/hour).")
        print_key(self, stream.rtmp_url(), key)


def print_key(command: BaseCommand, rtmp_url: str, key: str) -> None:
    command.stdout.write(f"Stream key: {key}")
    command.stdout.write(f"Publish to: {rtmp_url}?key={key}")
    command.stdout.write("The key is stored hashed and is not shown again; rotate it with manage.py rotatekey.")
