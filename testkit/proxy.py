"""A loopback TCP forwarder that a test can cut and restore, to stage a real network outage."""

from __future__ import annotations

import contextlib
import select
import socket
import socketserver
import threading

from testkit.media import free_port


class TcpProxy:
    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.target_port = target_port
        self.port = port or free_port()
        self._server: socketserver.ThreadingTCPServer | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TcpProxy:
        proxy = self

        class Pump(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                client: socket.socket = self.request
                try:
                    upstream = socket.create_connection(("127.0.0.1", proxy.target_port), timeout=5)
                except OSError:
                    return
                with proxy._lock:
                    proxy._open.update({client, upstream})
                try:
                    pair = {client: upstream, upstream: client}
                    while True:
                        readable, _, _ = select.select(list(pair), [], [], 1.0)
                        for source in readable:
                            data = source.recv(65536)
                            if not data:
                                return
                            pair[source].sendall(data)
                except OSError:
                    return
                finally:
                    upstream.close()
                    with proxy._lock:
                        proxy._open.difference_update({client, upstream})

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Pump)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Refuse new connections and cut the open ones."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._open.clear()
