"""The one HLS playlist parser: URI lines in order, resolved against the playlist's URL."""

from __future__ import annotations

import pytest

from validation import playlists

MEDIA = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:7
#EXTINF:2.000,
7.ts

#EXTINF:2.000,
  8.ts\t
#EXTINF:2.000,
http://other.example:8080/hls/alice/9.ts
"""

MASTER = """#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=1,AVERAGE-BANDWIDTH=1
alice.m3u8?hls_ctx=abc
"""


def test_lists_the_uri_lines_in_order_as_written():
    assert playlists.uris(MEDIA) == ["7.ts", "8.ts", "http://other.example:8080/hls/alice/9.ts"]


def test_resolves_uris_against_the_playlists_own_url():
    found = playlists.absolute_uris("http://node.example:8090/hls/alice/index.m3u8", MEDIA)
    assert found == [
        "http://node.example:8090/hls/alice/7.ts",
        "http://node.example:8090/hls/alice/8.ts",
        "http://other.example:8080/hls/alice/9.ts",
    ]


def test_tells_a_master_playlist_from_a_media_playlist():
    assert playlists.is_master(MASTER) and not playlists.is_master(MEDIA)
    assert playlists.absolute_uris("http://srs:8080/live/alice.m3u8", MASTER) == [
        "http://srs:8080/live/alice.m3u8?hls_ctx=abc"
    ]


def test_text_without_the_header_is_no_playlist():
    assert playlists.is_playlist(MEDIA) and not playlists.is_playlist("<html>not found</html>")


def test_a_uri_that_is_no_url_is_an_error():
    with pytest.raises(ValueError):
        playlists.absolute_uris("http://node.example/hls/alice/index.m3u8", "#EXTM3U\nhttp://[oops/1.ts\n")
