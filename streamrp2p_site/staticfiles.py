"""Static files in production: WhiteNoise's hashed, compressed copies, and never a 500 for a page.

``CompressedManifestStaticFilesStorage`` raises ``ValueError`` for any ``{% static %}`` name missing
from the manifest that ``collectstatic`` writes: a server started without that step (or a file
added since) answered every page, the login page included, with HTTP 500. Here such a name falls
back to its plain, unhashed URL with a warning in the log: WhiteNoise serves it from the apps'
folders while nothing was collected (settings: ``WHITENOISE_USE_FINDERS``), and a file added
since the last collect is missing from an otherwise styled page. ``collectstatic`` itself stays
strict: its post-processing does not go through ``stored_name``, so a stylesheet pointing at a
missing file still fails the build.
"""

from __future__ import annotations

import logging

from django.conf import settings
from whitenoise.storage import CompressedManifestStaticFilesStorage

log = logging.getLogger(__name__)


class ManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):
    warned = False  # once per process: WhiteNoise asks for every file when it starts

    def stored_name(self, name: str) -> str:
        try:
            return str(super().stored_name(name))
        except ValueError:
            if not ManifestStaticFilesStorage.warned:
                ManifestStaticFilesStorage.warned = True
                log.warning(
                    "static files are not collected in STATIC_ROOT (%s; %r is missing): served under "
                    "their plain names; run `manage.py collectstatic` (`manage.py web` does) to serve "
                    "hashed, compressed files",
                    settings.STATIC_ROOT,
                    name,
                )
            return name
