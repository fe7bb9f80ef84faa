"""The heartbeat route ahead of Django's full stack (issue 16: the heartbeat path serves every node
every few seconds, so it is most of the site's traffic).

`POST /api/v1/nodes/heartbeat` is answered here, before Django builds a request and runs the
middleware (sessions, auth, CSRF, messages, static files: none of which a node uses): the body is
read with a size cap, parsed, and handed to the very function the DRF view calls
(``nodes.api.answer_heartbeats``) through this process's batcher (``nodes/batching.py``): the
beats that arrive while a batch is in the database go together in the next one. Every other
request goes to Django untouched.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings

from core.errors import error_body
from core.lean import Scope, read_body, respond
from nodes.api import answer_heartbeats
from nodes.batching import Batcher

log = logging.getLogger(__name__)

PATH = "/api/v1/nodes/heartbeat"
MAX_BODY = 64 * 1024  # a heartbeat is a few hundred bytes


BATCHER: Batcher[tuple[str, object]] = Batcher(answer_heartbeats, threads=settings.HEARTBEAT_BATCH_THREADS)


class HeartbeatFastPath:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        body = await read_body(receive, MAX_BODY)
        if body is None:
            await respond(send, 413, error_body("too_large", f"A heartbeat is at most {MAX_BODY} bytes."))
            return
        kind = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        if kind != b"application/json":
            message = f'Unsupported media type "{kind.decode("latin-1")}" in request.'
            await respond(send, 415, error_body("unsupported_media_type", message))
            return
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:
            await respond(send, 400, error_body("parse_error", f"JSON parse error - {exc}"))
            return
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        status, payload, extra = await BATCHER.submit((authorization, data))
        await respond(send, status, payload, extra)
