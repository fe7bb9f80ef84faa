"""The node's HTTP server: HLS with the right types, CORS, counters, no path escapes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from streamr_node.server import Handler, Stats, make_app

SEGMENT = bytes(range(188)) * 10  # ten TS packets' worth, every offset distinguishable
PLAYLIST = "#EXTM3U\n#EXTINF:1.0,\nseg_1.ts\n"


def serve(
    tmp_path: Path,
    check: Callable[[str, Stats], Awaitable[None]],
    middleware: Callable[[web.Request, Handler], Awaitable[web.StreamResponse]] | None = None,
) -> Stats:
    stream_dir = tmp_path / "hls" / "alice"
    stream_dir.mkdir(parents=True)
    (stream_dir / "index.m3u8").write_text(PLAYLIST)
    (stream_dir / "seg_1.ts").write_bytes(SEGMENT)
    (tmp_path / "secret.txt").write_text("not for viewers")
    stats = Stats()

    async def main() -> None:
        app = make_app(tmp_path / "hls", stats, lambda: {"stream": "alice"})
        if middleware is not None:
            app.middlewares.append(web.middleware(middleware))
        server = TestServer(app)
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
    assert stats.bytes_served == len(SEGMENT) + len(PLAYLIST)
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


def test_serves_a_byte_range_of_a_segment(tmp_path):
    async def check(base: str, stats: Stats) -> None:
        ranged = {"Range": "bytes=100-299"}
        async with aiohttp.ClientSession() as http, http.get(f"{base}/hls/alice/seg_1.ts", headers=ranged) as response:
            assert response.status == 206
            assert response.headers["Content-Range"] == f"bytes 100-299/{len(SEGMENT)}"
            assert response.content_type == "video/mp2t"
            assert await response.read() == SEGMENT[100:300]

    stats = serve(tmp_path, check)
    # Only the range's bytes were sent, and part of a segment is not a served segment.
    assert (stats.bytes_served, stats.segments_served, stats.http_requests) == (200, 0, 1)
    assert stats.viewers() == 1


def test_serves_the_tail_of_a_segment_from_a_suffix_range(tmp_path):
    async def check(base: str, stats: Stats) -> None:
        ranged = {"Range": "bytes=-50"}
        async with aiohttp.ClientSession() as http, http.get(f"{base}/hls/alice/seg_1.ts", headers=ranged) as response:
            assert response.status == 206
            assert await response.read() == SEGMENT[-50:]

    assert serve(tmp_path, check).bytes_served == 50


def test_a_range_past_the_end_of_a_segment_is_refused_and_counts_no_bytes(tmp_path):
    async def check(base: str, stats: Stats) -> None:
        ranged = {"Range": "bytes=5000-"}
        async with aiohttp.ClientSession() as http, http.get(f"{base}/hls/alice/seg_1.ts", headers=ranged) as response:
            assert response.status == 416

    stats = serve(tmp_path, check)
    assert (stats.bytes_served, stats.segments_served, stats.http_requests) == (0, 0, 1)


def test_segment_answer_carries_an_etag_and_a_matching_one_gets_304(tmp_path):
    async def check(base: str, stats: Stats) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/hls/alice/seg_1.ts") as first:
                etag = first.headers["ETag"]
                assert first.headers["Accept-Ranges"] == "bytes"
                assert first.headers["Cache-Control"] == "max-age=60"
                assert await first.read() == SEGMENT
            async with http.get(f"{base}/hls/alice/seg_1.ts", headers={"If-None-Match": etag}) as again:
                assert again.status == 304
                assert again.headers["Access-Control-Allow-Origin"] == "*"
                assert await again.read() == b""

    stats = serve(tmp_path, check)
    assert (stats.bytes_served, stats.segments_served, stats.http_requests) == (len(SEGMENT), 1, 2)


def test_a_segment_deleted_before_it_is_asked_for_gets_404(tmp_path):
    async def check(base: str, stats: Stats) -> None:
        (tmp_path / "hls" / "alice" / "seg_1.ts").unlink()
        async with aiohttp.ClientSession() as http, http.get(f"{base}/hls/alice/seg_1.ts") as response:
            assert response.status == 404

    stats = serve(tmp_path, check)
    assert (stats.bytes_served, stats.segments_served, stats.http_requests) == (0, 0, 1)


def test_a_segment_deleted_between_lookup_and_send_gets_a_clean_404(tmp_path):
    """ffmpeg rotates the window at any moment: here right after the handler found the file."""

    async def delete_after_lookup(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        (tmp_path / "hls" / "alice" / "seg_1.ts").unlink()
        return response

    async def check(base: str, stats: Stats) -> None:
        async with aiohttp.ClientSession() as http, http.get(f"{base}/hls/alice/seg_1.ts") as response:
            assert response.status == 404
            assert await response.read() == b""

    stats = serve(tmp_path, check, middleware=delete_after_lookup)
    assert (stats.bytes_served, stats.segments_served, stats.http_requests) == (0, 0, 1)
    assert stats.viewers() == 0


def test_a_directory_named_like_a_segment_gets_404(tmp_path):
    async def check(base: str, stats: Stats) -> None:
        (tmp_path / "hls" / "alice" / "seg_9.ts").mkdir()
        async with aiohttp.ClientSession() as http, http.get(f"{base}/hls/alice/seg_9.ts") as response:
            assert response.status == 404

    assert serve(tmp_path, check).bytes_served == 0
