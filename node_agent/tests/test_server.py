"""The node's HTTP server: HLS with the right types, CORS, counters, no path escapes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from streamr_node.server import Stats, make_app


def serve(tmp_path: Path, check: Callable[[str, Stats], Awaitable[None]]) -> Stats:
    stream_dir = tmp_path / "hls" / "alice"
    stream_dir.mkdir(parents=True)
    (stream_dir / "index.m3u8").write_text("#EXTM3U\n#EXTINF:1.0,\nseg_1.ts\n")
    (stream_dir / "seg_1.ts").write_bytes(b"\x47" * 1880)
    (tmp_path / "secret.txt").write_text("not for viewers")
    stats = Stats()

    async def main() -> None:
        server = TestServer(make_app(tmp_path / "hls", stats, lambda: {"stream": "alice"}))
        await server.start_server()
        try:
            await check(str(server.make_url("")).rstrip("/"), stats)
        finally:
            await server.close()

    asyncio.run(main())
    return stats


def test_serves_playlist_and_segments_with_hls_types_and_cors(tmp_path):
    async def check(base: str, stats: Stats) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/hls/alice/index.m3u8") as playlist:
                assert playlist.status == 200
                assert playlist.content_type == "application/vnd.apple.mpegurl"
                assert playlist.headers["Access-Control-Allow-Origin"] == "*"
                assert playlist.headers["Cache-Control"] == "no-cache"
            async with http.get(f"{base}/hls/alice/seg_1.ts") as segment:
                assert segment.content_type == "video/mp2t" and len(await segment.read()) == 1880

    stats = serve(tmp_path, check)
    assert (stats.http_requests, stats.segments_served) == (2, 1)
    assert stats.bytes_served == 1880 + len("#EXTM3U\n#EXTINF:1.0,\nseg_1.ts\n")
    assert stats.viewers() == 1


def test_answers_cors_preflight(tmp_path):
    async def check(base: str, stats: Stats) -> None:
        async with aiohttp.ClientSession() as http, http.options(f"{base}/hls/alice/index.m3u8") as response:
            assert response.status == 204
            assert "GET" in response.headers["Access-Control-Allow-Methods"]

    serve(tmp_path, check)


ESCAPES = ["/hls/alice/..%2F..%2Fsecret.txt", "/hls/../secret.txt", "/hls/al%00ice/index.m3u8"]


@pytest.mark.parametrize("path", ["/hls/alice/missing.ts", "/hls/bob/index.m3u8", "/hls/alice/index.txt", *ESCAPES])
def test_unknown_or_escaping_paths_get_404(tmp_path, path):
    async def check(base: str, stats: Stats) -> None:
        async with aiohttp.ClientSession() as http, http.get(base + path) as response:
            assert response.status == 404
            assert "not for viewers" not in await response.text()

    stats = serve(tmp_path, check)
    assert stats.bytes_served == 0


def test_healthz_reports_the_relay(tmp_path):
    async def check(base: str, stats: Stats) -> None:
        async with aiohttp.ClientSession() as http, http.get(f"{base}/healthz") as response:
            assert await response.json() == {"ok": True, "stream": "alice"}

    serve(tmp_path, check)


def test_viewers_are_clients_seen_in_the_last_30_seconds():
    stats = Stats()
    stats.recent_clients.update({"a": 100.0, "b": 125.0, "c": 131.0})
    assert stats.viewers(now=140.0) == 2
    assert set(stats.recent_clients) == {"b", "c"}


def test_head_requests_are_answered_but_not_counted(tmp_path):
    async def check(base: str, stats: Stats) -> None:
        async with aiohttp.ClientSession() as http:
            for _ in range(10):
                async with http.head(f"{base}/hls/alice/seg_1.ts") as response:
                    assert response.status == 200

    stats = serve(tmp_path, check)
    assert (stats.bytes_served, stats.segments_served, stats.http_requests) == (0, 0, 0)
