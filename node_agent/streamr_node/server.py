"""The node's HTTP server: the relayed HLS under /hls/<stream>/, and /healthz for probes."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

SLUG = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FILE = re.compile(r"^[A-Za-z0-9_-]{1,100}\.(m3u8|ts)$")
CONTENT_TYPES = {"m3u8": "application/vnd.apple.mpegurl", "ts": "video/mp2t"}
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Range, Content-Type",
}
VIEWER_WINDOW_SECONDS = 30.0


@dataclass
class Stats:
    """Monotonic counters since this agent started, and who watched recently."""

    bytes_served: int = 0
    segments_served: int = 0
    http_requests: int = 0
    recent_clients: dict[str, float] = field(default_factory=dict)

    def viewers(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        cutoff = now - VIEWER_WINDOW_SECONDS
        for address in [a for a, seen in self.recent_clients.items() if seen < cutoff]:
            del self.recent_clients[address]
        return len(self.recent_clients)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "OPTIONS":
        return web.Response(status=204, headers=CORS)
    response = await handler(request)
    response.headers.update(CORS)
    return response


class _SegmentResponse(web.FileResponse):
    """Sends a segment from disk (sendfile, Range, ETag), then reports what actually went out.

    aiohttp only settles the status (200, 206, 304, 404 ...) and the length inside ``prepare``,
    which also sends the body: a client that hangs up mid-body raises there and counts nothing.
    """

    def __init__(self, path: Path, headers: dict[str, str], sent: Callable[[web.StreamResponse], None]) -> None:
        super().__init__(path, headers=headers)
        self._sent = sent

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        writer = await super().prepare(request)
        self._sent(self)
        return writer


def make_app(hls_root: Path, stats: Stats, health: Callable[[], dict[str, Any]]) -> web.Application:
    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, **health()})

    async def hls(request: web.Request) -> web.StreamResponse:
        slug, name = request.match_info["slug"], request.match_info["name"]
        # aiohttp routes HEAD here too; only a GET sends the body, so only a GET counts.
        counts = request.method == "GET"
        stats.http_requests += counts
        if not SLUG.match(slug) or not FILE.match(name):
            raise web.HTTPNotFound()
        path = hls_root / slug / name
        extension = name.rsplit(".", 1)[1]
        if extension == "ts":
            return await segment(request, path, counts)
        try:
            # Playlists are small and replaced whole (ffmpeg's temp_file + rename): read at once.
            body = await asyncio.to_thread(path.read_bytes)  # off the event loop
        except (FileNotFoundError, IsADirectoryError):
            raise web.HTTPNotFound() from None
        if counts:
            stats.bytes_served += len(body)
            stats.recent_clients[request.remote or "?"] = time.monotonic()
        return web.Response(body=body, content_type=CONTENT_TYPES[extension], headers={"Cache-Control": "no-cache"})

    async def segment(request: web.Request, path: Path, counts: bool) -> web.StreamResponse:
        # A plain 404 for the usual miss; FileResponse itself answers 404 when ffmpeg deletes the
        # segment between this check and the send, and 403 for a directory, which this avoids.
        if not await asyncio.to_thread(path.is_file):
            raise web.HTTPNotFound()

        def sent(response: web.StreamResponse) -> None:
            if not counts or response.status not in {200, 206, 304}:
                return
            stats.recent_clients[request.remote or "?"] = time.monotonic()  # a 304 is still a viewer
            if response.status != 304:
                stats.bytes_served += response.content_length or 0  # the range's length for a 206
            # A 206 is part of a segment: counting each part would count one segment many times.
            stats.segments_served += response.status == 200

        headers = {"Content-Type": CONTENT_TYPES["ts"], "Cache-Control": "max-age=60"}
        return _SegmentResponse(path, headers, sent)

    app = web.Application(middlewares=[cors])
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/hls/{slug}/{name}", hls)
    return app
