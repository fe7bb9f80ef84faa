"""The origin's hook route ahead of Django's full stack (issue 16: SRS calls ``on_hls`` for every
segment of every stream and ``on_play`` for every viewer, and blocks the publisher while it waits
for ``on_publish``).

``POST /hooks/srs`` is answered here: the body is read with a size cap and handed, with the
secret from the query string, to the function the Django view calls (``streams.hooks.answer_srs``)
in a worker thread that returns its database connection to the pool when done. While the
database is down (a restart) the answer is 503 with Retry-After, within about a second
(core/database.py), not a 500. Every other request, nginx-rtmp's form-encoded hooks included,
goes to Django untouched.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from core import database
from core.errors import UNAVAILABLE_HEADERS, error_body, unavailable_body
from core.lean import Scope, read_body, respond
from streams.hooks import SRS_PATH, answer_srs, origin_refused

MAX_BODY = 64 * 1024  # SRS's callbacks are a few hundred bytes


def _answer(secret: str, body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
    close_old_connections()
    try:
        status, payload = answer_srs(secret, body)
        return status, payload, {}
    except Exception as exc:
        if not database.unavailable(exc):
            raise
        # The database is restarting: a refusal SRS retries with the next callback, not a 500.
        database.outage_seen(exc)
        return 503, {"code": 503, **unavailable_body()}, UNAVAILABLE_HEADERS
    finally:
        close_old_connections()  # CONN_MAX_AGE 0: the connection goes back to the pool


class HookFastPath:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != SRS_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")  # the peer, or X-Forwarded-For's from a trusted proxy
        refused = origin_refused(client[0] if client else None)
        if refused is not None:
            await respond(send, *refused)
            return
        body = await read_body(receive, MAX_BODY)
        if body is None:
            too_large = error_body("too_large", f"A hook body is at most {MAX_BODY} bytes.")
            await respond(send, 413, {"code": 413, **too_large})
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        secret = query.get("secret", [""])[0]
        status, payload, headers = await sync_to_async(_answer, thread_sensitive=False)(secret, body)
        await respond(send, status, payload, headers)
