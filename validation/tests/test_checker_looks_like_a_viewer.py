"""The spot-checker's requests are a player's: Chromium's headers for hls.js on our watch page, the
playlist then more than one segment, compressed bodies decoded inside the caps."""

from __future__ import annotations

import gzip
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import brotli
import pytest
import zstandard

from testkit.media import free_port
from validation import checks, fetching


class Recorder:
    """A loopback HTTP server that keeps each request's path and headers, in the order sent."""

    def __init__(self, body: bytes = b"#EXTM3U\n") -> None:
        self.requests: list[tuple[str, list[tuple[str, str]]]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.requests.append((self.path, list(self.headers.items())))
                self.send_response(200)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    running = Recorder()
    yield running
    running.close()


@pytest.mark.live
def test_sends_the_headers_chromium_sends_for_hls_js_on_the_watch_page(browser, recorder):
    page_server = Recorder(b"<html><body>watch</body></html>")
    try:
        page = browser.new_page()
        page.goto(page_server.url + "/watch/alice")
        segment = recorder.url + "/hls/alice/seg1.ts"
        page.evaluate(
            """url => new Promise(done => { const x = new XMLHttpRequest(); x.open('GET', url, true);
               x.responseType = 'arraybuffer'; x.onload = () => done(true); x.send(); })""",
            segment,
        )
        with fetching.client() as http:
            fetching.get(http, segment, page_server.url + "/watch/alice").close()
    finally:
        page_server.close()
    (browser_path, chromium), (checker_path, ours) = recorder.requests
    assert browser_path == checker_path == "/hls/alice/seg1.ts"
    # Headless Chromium names itself in its User-Agent; the checker poses as the desktop browser.
    chromium = [(k, v.replace("HeadlessChrome", "Chrome")) for k, v in chromium]
    assert [name.lower() for name, _ in ours] == [name.lower() for name, _ in chromium]
    assert ours == chromium


def test_loads_the_playlist_then_two_segments_and_sends_nothing_that_names_it(recorder):
    found = checks.inspect_node(recorder.url + "/hls/alice/index.m3u8")
    assert found.outcome == "unreachable"  # an empty playlist: the requests are the point here
    _, headers = recorder.requests[0]
    values = " ".join(f"{k} {v}" for k, v in headers).lower()
    assert "streamrp2p" not in values and "python" not in values and "httpx" not in values
    assert dict(headers)["Accept-Encoding"] == "gzip, deflate, br, zstd"


@pytest.mark.parametrize(
    "encoding,pack",
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("br", brotli.compress),
        ("zstd", zstandard.ZstdCompressor().compress),
    ],
)
def test_decodes_what_a_browser_accepts_and_stops_a_bomb_at_the_cap(encoding, pack):
    body = b"#EXTM3U\n#EXTINF:2.0,\nseg1.ts\n" * 100
    assert fetching.decode(pack(body), encoding, 1_000_000) == body
    with pytest.raises((fetching.TooLarge, fetching.Undecodable)):
        fetching.decode(pack(b"\x00" * 50_000_000), encoding, 256 * 1024)


def test_an_encoding_no_browser_sends_is_refused():
    with pytest.raises(fetching.Undecodable):
        fetching.decode(b"data", "compress", 1000)


def test_a_zstd_frame_declaring_a_gigabyte_is_not_allocated(tmp_path):
    """python-zstandard's decompress() allocates the size a frame header declares: the checker
    must never, or a node could exhaust its memory (a crashed check is no verdict at all)."""
    packer = zstandard.ZstdCompressor(write_content_size=True).compressobj(size=1 << 30)
    bomb = b"".join(packer.compress(b"\x00" * (1 << 20)) for _ in range(1024)) + packer.flush()
    (tmp_path / "bomb.zst").write_bytes(bomb)
    probe = (
        "import resource, sys; from validation import fetching; body = open(sys.argv[1], 'rb').read(); "
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try: fetching.decode(body, 'zstd', 256 * 1024)\nexcept fetching.TooLarge: pass\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "bomb.zst")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 64 * 1024  # kilobytes: the decoder stayed small
