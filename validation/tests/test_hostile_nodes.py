"""A node's HTTP server is hostile input: the checker stays bounded, on the node's host, and fair."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from testkit.media import free_port
from validation import checks

Handler = Callable[[BaseHTTPRequestHandler], None]


@pytest.fixture
def node_server() -> Iterator[Callable[[Handler], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(handle: Handler) -> str:
        class Request(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                handle(self)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", free_port()), Request)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/hls/alice/index.m3u8"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def answer(body: bytes, **headers: str) -> Handler:
    def handle(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(body)

    return handle


def playlist(*uris: str, master: bool = False) -> bytes:
    tag = "#EXT-X-STREAM-INF:BANDWIDTH=1" if master else "#EXTINF:1.0,"
    return ("#EXTM3U\n" + "".join(f"{tag}\n{uri}\n" for uri in uris)).encode()


def test_a_node_trickling_its_playlist_is_cut_off_at_the_deadline(node_server):
    def trickle(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.end_headers()
        for byte in playlist("seg.ts") * 10:
            request.wfile.write(bytes([byte]))
            request.wfile.flush()
            time.sleep(0.2)

    started = time.monotonic()
    found = checks.inspect_node(node_server(trickle))
    assert found.outcome == "timeout"
    assert time.monotonic() - started < checks.NODE_CHECK_SECONDS + 1.5


@pytest.mark.parametrize("uri", ["http://[oops/seg.ts", "a" * 70_000 + ".ts"])
def test_an_invalid_segment_uri_is_bad_media_not_a_crash(node_server, uri):
    assert checks.inspect_node(node_server(answer(playlist(uri)))).outcome == "bad_media"


def test_segments_on_another_port_of_the_same_host_are_a_redirect(node_server):
    other = f"http://127.0.0.1:{free_port()}/seg.ts"
    found = checks.inspect_node(node_server(answer(playlist(other))))
    assert found.outcome == "redirect"


def test_a_master_playlist_pointing_off_host_is_a_redirect_and_is_not_followed(node_server):
    hits: list[str] = []
    elsewhere = node_server(lambda request: hits.append(request.path) or answer(playlist("x.ts"))(request))
    found = checks.inspect_node(node_server(answer(playlist(elsewhere, master=True))))
    assert found.outcome == "redirect" and hits == []


def test_the_host_comparison_ignores_case_and_default_ports():
    assert checks.same_host("http://LOCALHOST/hls/a/seg.ts", ("localhost", 80))
    assert checks.same_host("http://localhost:80/seg.ts", checks.origin_of("http://localhost/hls/a/index.m3u8"))
    assert not checks.same_host("http://localhost:8080/seg.ts", ("localhost", 80))


def test_a_compressed_body_is_decoded_only_up_to_the_cap(node_server):
    bomb = gzip.compress(b"\x00" * 50_000_000)
    found = checks.inspect_node(node_server(answer(bomb, **{"Content-Encoding": "gzip"})))
    assert found.outcome == "bad_media" and "decodes to more than" in found.evidence["reason"]


def test_a_socket_that_never_answers_is_a_timeout():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        found = checks.inspect_node(f"http://127.0.0.1:{listener.getsockname()[1]}/hls/alice/index.m3u8")
    finally:
        listener.close()
    assert found.outcome == "timeout"
