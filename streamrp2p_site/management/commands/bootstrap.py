"""Local first-run setup for ``make run``: an admin account and a demo stream, when none exist.

Their secrets are stored hashed in the database like any other, so this command keeps the
plain values in a git-ignored, owner-only file (.local/credentials.json) to show them again on
every ``make run``. It refuses to run with DEBUG off: production accounts are made by people.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from streams import keys, services
from streams.models import Stream

ADMIN_USERNAME = "admin"
DEMO_SLUG = "demo"


def credentials_path() -> Path:
    return Path(settings.BASE_DIR) / ".local" / "credentials.json"


class Command(BaseCommand):
    help = "Create a local admin and a demo stream when none exist, and print how to use them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="Port the site will be served on.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.site = f"http://127.0.0.1:{options['port']}"
        if not settings.DEBUG:
            raise CommandError("bootstrap is for local development only (DEBUG is off).")
        path = credentials_path()
        saved: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}

        User = get_user_model()
        if not User.objects.filter(is_superuser=True).exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser(ADMIN_USERNAME, "admin@localhost", password)
            saved.update(admin_username=ADMIN_USERNAME, admin_password=password)
            self.stdout.write(self.style.SUCCESS(f"Created admin user {ADMIN_USERNAME!r}."))
        if not Stream.objects.exists():
            owner = User.objects.filter(is_superuser=True).order_by("pk").first()
            assert owner is not None
            stream, key = services.create_stream(owner=owner, slug=DEMO_SLUG, title="Demo stream")
            saved.update(stream_slug=stream.slug, stream_key=key)
            self.stdout.write(self.style.SUCCESS(f"Created demo stream {stream.slug!r}."))

        path.parent.mkdir(mode=0o700, exist_ok=True)
        path.write_text(json.dumps(saved, indent=2))
        os.chmod(path, 0o600)
        self._print(saved)

    def _print(self, saved: dict[str, str]) -> None:
        out = self.stdout.write
        out("")
        out(f"Site:   {self.site}/   (admin: {self.site}/admin/, API: {self.site}/api/v1/streams)")
        user = get_user_model().objects.filter(username=saved.get("admin_username", "")).first()
        if user is not None and user.check_password(saved.get("admin_password", "")):
            out(f"Admin:  {saved['admin_username']} / {saved['admin_password']}")
        else:
            out("Admin:  an admin account exists (password not stored here; reset: manage.py changepassword)")
        stream = Stream.objects.filter(slug=saved.get("stream_slug", "")).first()
        if stream is not None and keys.key_matches(saved.get("stream_key"), stream.key_hash):
            out(f"Stream: publish with OBS/ffmpeg to {stream.rtmp_url()}?key={saved['stream_key']}")
        else:
            out("Stream: keys are shown once; get a new one with manage.py rotatekey SLUG")
        secret = settings.HOOK_SECRET
        out(f"Origin hooks (nginx-rtmp): on_<event> {self.site}/hooks/nginx-rtmp/<event>?secret={secret}")
        out(f"Origin hooks (SRS):        {self.site}/hooks/srs?secret={secret}")
        out("")
