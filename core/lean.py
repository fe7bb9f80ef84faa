"""Raw ASGI helpers for the lean routes that answer the machines' hot paths ahead of Django's
stack: node heartbeats (nodes/fastpath.py) and the origin's hooks (streams/fastpath.py).

Those requests carry a secret, not a session: none of Django's middleware (sessions, auth, CSRF,
messages, static files) applies to them, and skipping it is most of their cost."""

from __future__ import annotations

import json
from typing import Any

Scope = dict[str, Any]


async def read_body(receive: Any, limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def respond(send: Any, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    """A JSON answer."""
    body = json.dumps(payload).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
