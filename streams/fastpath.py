"""The origin's hook route ahead of Django's full stack (issue 16: SRS calls ``on_hls`` for every
segment of every stream and ``on_play`` for every viewer, and blocks the publisher while it waits
for ``on_publish``).

``POST /hooks/srs`` is answered here: the body is read with a size cap and handed, with the
secret from the query string, to the function the Django view calls (``streams.hooks.answer_srs``)
in a worker thread that returns its database connection to the pool when done. Every other
request, nginx-rtmp's form-encoded hooks included, goes to Django untouched.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from core.errors import error_body
from core.lean import Scope, read_body, respond
from streams.hooks import SRS_PATH, Answer, answer_srs

MAX_BODY = 64 * 1024  # SRS's callbacks are a few hundred bytes


def _answer(secret: str, body: bytes) -> Answer:
    close_old_connections()
    try:
        return answer_srs(secret, body)
    finally:
        close_old_connections()  # CONN_MAX_AGE 0: the connection goes back to the pool


class HookFastPath:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != SRS_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = await read_body(receive, MAX_BODY)
        if body is None:
            too_large = error_body("too_large", f"A hook body is at most {MAX_BODY} bytes.")
            await respond(send, 413, {"code": 413, **too_large})
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        secret = query.get("secret", [""])[0]
        status, payload = await sync_to_async(_answer, thread_sensitive=False)(secret, body)
        await respond(send, status, payload)
