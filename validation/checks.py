"""Inspect what a node serves now and compare it with the origin's live window (no database).

Network rules: strict connect/read timeouts and size caps; redirects are never followed — a node
that redirects (or lists segments on another host) is sending viewers elsewhere instead of
serving them, which is its own verdict.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from validation.fingerprints import MediaError, frame_fingerprints

CONNECT_TIMEOUT = 1.0
READ_TIMEOUT = 1.5
MAX_PLAYLIST_BYTES = 256 * 1024
MAX_SEGMENT_BYTES = 32 * 1024 * 1024
ORIGIN_SEGMENTS = 8  # newest origin segments compared against (the live window)


class Verdict(Exception):
    """Ends an inspection early with an outcome (unreachable, timeout, redirect, bad_media)."""

    def __init__(self, outcome: str, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


class OriginUnavailable(Exception):
    """The origin's own HLS could not be read: no verdict on the node is possible."""


@dataclass
class Inspection:
    outcome: str = ""
    node_prints: list[bytes] = field(default_factory=list)
    origin_prints: list[bytes] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    @property
    def latency_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


def client() -> httpx.Client:
    timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
    return httpx.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": "streamrp2p-spotcheck"})


def fetch(http: httpx.Client, url: str, limit: int, *, who: str) -> bytes:
    """GET with a size cap; network failures become verdicts for the node."""
    try:
        with http.stream("GET", url) as response:
            if response.is_redirect:
                raise Verdict("redirect", f"{who} redirected to {response.headers.get('location', '?')}")
            if response.status_code != 200:
                raise Verdict("unreachable", f"{who} answered HTTP {response.status_code} for {url}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise Verdict("bad_media", f"{who} sent more than {limit} bytes for {url}")
            return bytes(body)
    except httpx.TimeoutException:
        raise Verdict("timeout", f"{who} did not answer {url} within the timeouts") from None
    except httpx.HTTPError as exc:
        raise Verdict("unreachable", f"{who}: {exc.__class__.__name__}: {exc}") from None


def media_uris(playlist_url: str, text: str) -> list[str]:
    return [
        urljoin(playlist_url, line.strip()) for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]


def read_playlist(http: httpx.Client, url: str, *, who: str) -> list[str]:
    """Segment URLs of a media playlist; follows one level of master playlist (SRS's hls_ctx)."""
    text = fetch(http, url, MAX_PLAYLIST_BYTES, who=who).decode("utf-8", errors="replace")
    if "#EXTM3U" not in text:
        raise Verdict("bad_media", f"{who} playlist is not HLS")
    uris = media_uris(url, text)
    if "#EXT-X-STREAM-INF" in text and uris:
        url = uris[0]
        text = fetch(http, url, MAX_PLAYLIST_BYTES, who=who).decode("utf-8", errors="replace")
        uris = media_uris(url, text)
    return uris


def inspect_node(playlist_url: str, *, node_host: str) -> Inspection:
    """Fetch the node's playlist and newest segment; fingerprint its frames."""
    found = Inspection()
    found.evidence["playlist"] = playlist_url
    with client() as http:
        try:
            segments = read_playlist(http, playlist_url, who="node")
            if not segments:
                raise Verdict("unreachable", "node playlist lists no segments")
            newest = segments[-1]
            found.evidence["segment"] = newest
            if urlsplit(newest).netloc != node_host:
                raise Verdict("redirect", f"node lists its segments on another host: {newest}")
            data = fetch(http, newest, MAX_SEGMENT_BYTES, who="node")
            found.evidence["segment_bytes"] = len(data)
            try:
                found.node_prints = frame_fingerprints(data)
            except MediaError as exc:
                raise Verdict("bad_media", str(exc)) from None
        except Verdict as verdict:
            found.outcome = verdict.outcome
            found.evidence["reason"] = verdict.reason
    return found


def origin_window(playlist_url: str) -> tuple[list[bytes], list[str]]:
    """Fingerprints of the origin's newest segments, and which segments they came from."""
    prints: list[bytes] = []
    with client() as http:
        try:
            segments = read_playlist(http, playlist_url, who="origin")[-ORIGIN_SEGMENTS:]
            for url in segments:
                try:
                    prints.extend(frame_fingerprints(fetch(http, url, MAX_SEGMENT_BYTES, who="origin")))
                except Verdict:
                    continue  # rotated away between playlist and fetch
        except (Verdict, MediaError) as exc:
            raise OriginUnavailable(str(exc)) from None
    if not prints:
        raise OriginUnavailable(f"no frames at {playlist_url}")
    return prints, segments
