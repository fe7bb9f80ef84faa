"""Inspect what a node serves now and compare it with the origin's live window (no database).

Network rules: strict connect/read timeouts and size caps; redirects are never followed — a node
that redirects (or lists segments on another host) is sending viewers elsewhere instead of
serving them, which is its own verdict.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from validation import playlists
from validation.fingerprints import MediaError, frame_fingerprints

CONNECT_TIMEOUT = 1.0
READ_TIMEOUT = 1.5
MAX_PLAYLIST_BYTES = 256 * 1024
MAX_SEGMENT_BYTES = 32 * 1024 * 1024
ORIGIN_SEGMENTS = 8  # newest origin segments compared against (the live window)
NODE_CHECK_SECONDS = 3.0  # the whole node side of a check, however slowly the node sends
ORIGIN_CHECK_SECONDS = 10.0


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
    evidence: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    @property
    def latency_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


def client() -> httpx.Client:
    timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
    # identity: a compressed body could expand far beyond the size caps before we count it.
    headers = {"User-Agent": "streamrp2p-spotcheck", "Accept-Encoding": "identity"}
    return httpx.Client(timeout=timeout, follow_redirects=False, headers=headers)


def same_host(url: str, host: tuple[str, int]) -> bool:
    return origin_of(url) == host


def origin_of(url: str) -> tuple[str, int]:
    """(hostname, port) with the scheme's default port, lower-cased: how hosts are compared."""
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return (parts.hostname or "").lower(), parts.port or default


def fetch(http: httpx.Client, url: str, limit: int, *, who: str, deadline: float) -> bytes:
    """GET with a size cap and a deadline for the whole transfer; failures become verdicts."""
    if time.monotonic() >= deadline:
        raise Verdict("timeout", f"{who} took longer than the check allows")
    try:
        with http.stream("GET", url) as response:
            if response.is_redirect:
                raise Verdict("redirect", f"{who} redirected to {response.headers.get('location', '?')}")
            if response.status_code != 200:
                raise Verdict("unreachable", f"{who} answered HTTP {response.status_code} for {url}")
            if response.headers.get("content-encoding", "identity").lower() != "identity":
                raise Verdict("bad_media", f"{who} sent a compressed body for {url}")
            body = bytearray()
            for chunk in response.iter_raw():
                body += chunk
                if len(body) > limit:
                    raise Verdict("bad_media", f"{who} sent more than {limit} bytes for {url}")
                if time.monotonic() >= deadline:  # a trickling sender never ends a read timeout
                    raise Verdict("timeout", f"{who} was still sending {url} at the check's deadline")
            return bytes(body)
    except httpx.TimeoutException:
        raise Verdict("timeout", f"{who} did not answer {url} within the timeouts") from None
    except httpx.InvalidURL as exc:
        raise Verdict("bad_media", f"{who} listed an invalid URL: {exc}") from None
    except httpx.HTTPError as exc:
        raise Verdict("unreachable", f"{who}: {exc.__class__.__name__}: {exc}") from None


def media_uris(playlist_url: str, text: str, *, who: str) -> list[str]:
    try:
        return playlists.absolute_uris(playlist_url, text)
    except ValueError as exc:  # e.g. "http://[oops/seg.ts"
        raise Verdict("bad_media", f"{who} playlist lists an invalid URI: {exc}") from None


def read_playlist(
    http: httpx.Client, url: str, *, who: str, deadline: float, host: tuple[str, int] | None = None
) -> list[str]:
    """Segment URLs of a media playlist; follows one level of master playlist (SRS's hls_ctx).

    With ``host``, a playlist that points anywhere else is a redirect, and is not fetched.
    """
    text = fetch(http, url, MAX_PLAYLIST_BYTES, who=who, deadline=deadline).decode("utf-8", errors="replace")
    if not playlists.is_playlist(text):
        raise Verdict("bad_media", f"{who} playlist is not HLS")
    uris = media_uris(url, text, who=who)
    if playlists.is_master(text) and uris:
        url = uris[0]
        if host is not None and not same_host(url, host):
            raise Verdict("redirect", f"{who} playlist points at another host: {url}")
        text = fetch(http, url, MAX_PLAYLIST_BYTES, who=who, deadline=deadline).decode("utf-8", errors="replace")
        uris = media_uris(url, text, who=who)
    return uris


def inspect_node(playlist_url: str, *, node_host: str | None = None) -> Inspection:
    """Fetch the node's playlist and newest segment (nothing off its host); fingerprint the frames."""
    found = Inspection()
    found.evidence["playlist"] = playlist_url
    host = origin_of(playlist_url)
    deadline = time.monotonic() + NODE_CHECK_SECONDS
    with client() as http:
        try:
            segments = read_playlist(http, playlist_url, who="node", deadline=deadline, host=host)
            if not segments:
                raise Verdict("unreachable", "node playlist lists no segments")
            newest = segments[-1]
            found.evidence["segment"] = newest[:500]
            if not same_host(newest, host):
                raise Verdict("redirect", f"node lists its segments on another host: {newest[:200]}")
            data = fetch(http, newest, MAX_SEGMENT_BYTES, who="node", deadline=deadline)
            found.evidence["segment_bytes"] = len(data)
            try:
                found.node_prints = frame_fingerprints(data)
            except MediaError as exc:
                raise Verdict("bad_media", str(exc)) from None
        except Verdict as verdict:
            found.outcome = verdict.outcome
            found.evidence["reason"] = verdict.reason[:500]
    return found


def address_of(url: str) -> str:
    """The address the URL's host resolves to now (the first the resolver gives), "" if none:
    nodes behind one address are one machine, whatever names point at it."""
    host = urlsplit(url).hostname or ""
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return ""
    return str(ipaddress.ip_address(str(found[0][4][0]).split("%", 1)[0])) if found else ""


def node_identity(public_url: str) -> int | None:
    """The node id the relay at ``public_url`` reports on /healthz (None if it reports none)."""
    url = public_url.rstrip("/") + "/healthz"
    with client() as http:
        try:
            body = fetch(http, url, MAX_PLAYLIST_BYTES, who="node", deadline=time.monotonic() + NODE_CHECK_SECONDS)
            value = json.loads(body).get("node_id")
        except (Verdict, ValueError, AttributeError):
            return None
    return value if isinstance(value, int) else None


def origin_window(playlist_url: str, newest: int = ORIGIN_SEGMENTS) -> tuple[list[bytes], list[str]]:
    """Fingerprints of the origin's ``newest`` segments, and which segments they came from."""
    prints: list[bytes] = []
    with client() as http:
        try:
            deadline = time.monotonic() + ORIGIN_CHECK_SECONDS
            segments = read_playlist(http, playlist_url, who="origin", deadline=deadline)[-newest:]
            for url in segments:
                try:
                    prints.extend(
                        frame_fingerprints(fetch(http, url, MAX_SEGMENT_BYTES, who="origin", deadline=deadline))
                    )
                except Verdict:
                    continue  # rotated away between playlist and fetch
        except (Verdict, MediaError) as exc:
            raise OriginUnavailable(str(exc)) from None
    if not prints:
        raise OriginUnavailable(f"no frames at {playlist_url}")
    return prints, segments
