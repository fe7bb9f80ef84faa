"""The heartbeat route ahead of Django's full stack (issue 16: the heartbeat path serves every node
every few seconds, so it is most of the site's traffic).

`POST /api/v1/nodes/heartbeat` is answered here, before Django builds a request and runs the
middleware (sessions, auth, CSRF, messages, static files: none of which a node uses): the body is
read with a size cap, parsed, and handed to the very function the DRF view calls
(``nodes.api.heartbeat_answer``) in one worker thread, which returns its database connection to
the pool when done. Every other request goes to Django untouched.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from core.errors import error_body
from nodes.api import heartbeat_answer

log = logging.getLogger(__name__)

PATH = "/api/v1/nodes/heartbeat"
MAX_BODY = 64 * 1024  # a heartbeat is a few hundred bytes

Scope = dict[str, Any]


def _answer(authorization: str, data: object) -> tuple[int, dict[str, Any], dict[str, str]]:
    close_old_connections()
    try:
        return heartbeat_answer(authorization, data)
    finally:
        close_old_connections()  # CONN_MAX_AGE 0: the connection goes back to the pool


class HeartbeatFastPath:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        body = await _read(receive)
        if body is None:
            await _respond(send, 413, error_body("too_large", f"A heartbeat is at most {MAX_BODY} bytes."))
            return
        kind = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        if kind != b"application/json":
            message = f'Unsupported media type "{kind.decode("latin-1")}" in request.'
            await _respond(send, 415, error_body("unsupported_media_type", message))
            return
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:
            await _respond(send, 400, error_body("parse_error", f"JSON parse error - {exc}"))
            return
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        try:
            status, payload, extra = await sync_to_async(_answer, thread_sensitive=False)(authorization, data)
        except Exception:  # as Django would: logged, and a JSON 500 without details
            log.exception("heartbeat failed")
            await _respond(send, 500, error_body("server_error", "Internal server error."))
            return
        await _respond(send, status, payload, extra)


async def _read(receive: Any) -> bytes | None:
    """The request body, or None when it is larger than MAX_BODY."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Any, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    body = json.dumps(payload).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
