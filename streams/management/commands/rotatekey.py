from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from streams import services
from streams.management.commands.createstream import print_key
from streams.models import Stream


class Command(BaseCommand):
    help = "Replace a stream's key and print the new one (the old key stops working at once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")

    def handle(self, *args: Any, **options: Any) -> None:
        stream = Stream.objects.filter(slug=options["slug"]).first()
        if stream is None:
            raise CommandError(f"No stream {options['slug']!r}.")
        key = services.rotate_key(stream)
        self.stdout.write(f"Rotated the key of {stream.slug}.")
        print_key(self, stream.rtmp_url(), key)
