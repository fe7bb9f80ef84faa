"""Dishonest "nodes" for spot-check tests: each a real HTTP server on loopback, stopped on exit."""

from __future__ import annotations

import os
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from testkit.hls import fetch
from testkit.media import free_port
from validation import playlists


class _Server:
    def __init__(self) -> None:
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def start(self) -> _Server:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _send(request: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str = "text/plain") -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


class StaticHls(_Server):
    """Serves files of a directory as /hls/<anything>/<file> (a recording, or garbage)."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        name = Path(urllib.parse.urlsplit(request.path).path).name
        path = self.directory / name
        if not name or not path.is_file():
            _send(request, 404, b"not found")
            return
        _send(request, 200, path.read_bytes(), "application/octet-stream")


class Mirror(_Server):
    """Serves another stream's live HLS as if it were the assigned one, from its own host."""

    def __init__(self, source_playlist: str) -> None:
        super().__init__()
        self.source_playlist = source_playlist

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        name = Path(urllib.parse.urlsplit(request.path).path).name
        if name.endswith(".m3u8"):
            text = fetch(self.source_playlist).decode()
            for uri in playlists.uris(text):
                text = text.replace(uri, Path(urllib.parse.urlsplit(uri).path).name)
            _send(request, 200, text.encode(), "application/vnd.apple.mpegurl")
            return
        source = urllib.parse.urljoin(self.source_playlist, name)
        _send(request, 200, fetch(source), "video/mp2t")


class HeaderCloak(Mirror):
    """Relays the live stream only to requests that look like the old spot-checker (its User-Agent,
    ``Accept-Encoding: identity``, no Origin); everyone else gets random bytes as segments."""

    def __init__(self, source_playlist: str) -> None:
        super().__init__(source_playlist)
        self.real = 0
        self.garbage = 0

    @staticmethod
    def looks_like_the_checker(request: BaseHTTPRequestHandler) -> bool:
        agent = request.headers.get("User-Agent", "")
        return (
            "streamrp2p" in agent
            or "python" in agent.lower()
            or request.headers.get("Accept-Encoding", "") == "identity"
            or request.headers.get("Origin") is None
        )

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        name = Path(urllib.parse.urlsplit(request.path).path).name
        if name.endswith(".m3u8") or self.looks_like_the_checker(request):
            self.real += not name.endswith(".m3u8")
            super().handle(request)
            return
        self.garbage += 1
        _send(request, 200, os.urandom(300_000), "video/mp2t")


class Redirector(_Server):
    """Answers every request with a redirect (to the origin, typically)."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        request.send_response(302)
        request.send_header("Location", self.target)
        request.send_header("Content-Length", "0")
        request.end_headers()


class Silent:
    """Accepts connections and never answers."""

    def __init__(self) -> None:
        self.port = free_port()
        self._socket: socket.socket | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Silent:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", self.port))
        self._socket.listen(16)  # the kernel completes handshakes; nobody ever reads or writes
        return self

    def stop(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
