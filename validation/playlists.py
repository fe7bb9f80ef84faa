"""Reading HLS playlists (RFC 8216): the one parser, for the spot-checker and the test harness.

Only what a check needs: which lines are URIs (segments of a media playlist, variant streams of a
master playlist), resolved against the playlist's own URL. Tags are not interpreted.
"""

from __future__ import annotations

from urllib.parse import urljoin

MASTER_TAG = "#EXT-X-STREAM-INF"  # a master playlist lists variant streams, not segments


def is_playlist(text: str) -> bool:
    return "#EXTM3U" in text


def is_master(text: str) -> bool:
    return MASTER_TAG in text


def uris(text: str) -> list[str]:
    """The URI lines, in order, as written (relative or absolute)."""
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def absolute_uris(playlist_url: str, text: str) -> list[str]:
    """The URI lines resolved against the playlist's URL; ValueError for one that is no URL."""
    return [urljoin(playlist_url, uri) for uri in uris(text)]
