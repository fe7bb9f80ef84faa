"""Inspect what a node serves now and compare it with the origin's live window (no database).

Network rules: strict connect/read timeouts and size caps; redirects are never followed — a node
that redirects (or lists segments on another host) is sending viewers elsewhere instead of
serving them, which is its own verdict.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import random
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from core import netguard
from validation import fetching, playlists
from validation.fingerprints import MediaError, frame_fingerprints

MAX_PLAYLIST_BYTES = 256 * 1024
MAX_SEGMENT_BYTES = 32 * 1024 * 1024
ORIGIN_SEGMENTS = 8  # newest origin segments compared against (the live window)
NODE_CHECK_SECONDS = 5.0  # the whole node side of a check (two segments), however slowly the node sends
PLAYER_PAUSE = (0.05, 0.4)  # seconds between a player's requests
CLOAK_MIN_TICKETS = 2  # viewers who must agree on bytes the node did not send the checker
ORIGIN_CHECK_SECONDS = 10.0


class Verdict(Exception):
    """Ends an inspection early with an outcome (unreachable, timeout, redirect, bad_media, …).

    ``reason`` is a verdict, shown wherever the check is: never a status code, a Location, an
    exception's text or anything else the node (or whatever its URL reaches) answered, which would
    make checks a scanner of what sits behind the URL. ``detail`` may hold those, for staff only
    (evidence["staff_detail"], seen in the admin)."""

    def __init__(self, outcome: str, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.detail = detail


class OriginUnavailable(Exception):
    """The origin's own HLS could not be read: no verdict on the node is possible."""


@dataclass
class Inspection:
    outcome: str = ""
    node_prints: list[bytes] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    finished: float = 0.0  # when the node's last byte was read: the origin must be read after it
    paused: float = 0.0  # seconds spent pausing between requests as a player does
    fetched: dict[str, tuple[str, int]] = field(default_factory=dict)  # segment URL -> (SHA-256, size)

    @property
    def latency_ms(self) -> int:
        """How long the node took to serve the check (the player's pauses left out)."""
        end = self.finished or time.monotonic()
        return max(0, int((end - self.started - self.paused) * 1000))


def same_host(url: str, host: tuple[str, int]) -> bool:
    return origin_of(url) == host


def origin_of(url: str) -> tuple[str, int]:
    """(hostname, port) with the scheme's default port, lower-cased: how hosts are compared."""
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return (parts.hostname or "").lower(), parts.port or default


def fetch(
    http: httpx.Client, url: str, limit: int, *, who: str, deadline: float, page_url: str = "", what: str = "playlist"
) -> bytes:
    """GET as a viewer's browser would, with a size cap and a deadline for the whole transfer;
    compressed bodies are decoded inside the cap. Failures become verdicts: ``who`` did not serve
    its ``what``, with what it answered kept for staff."""
    if time.monotonic() >= deadline:
        raise Verdict("timeout", f"{who} took longer than the check allows")
    try:
        response = fetching.get(http, url, page_url)
        try:
            if response.is_redirect:
                location = response.headers.get("location", "?")[:200]
                raise Verdict(
                    "redirect",
                    f"{who} redirected its {what} (not followed)",
                    f"HTTP {response.status_code} to {location} for {url}",
                )
            if response.status_code != 200:
                raise Verdict(
                    "unreachable", f"{who} did not serve its {what}", f"HTTP {response.status_code} for {url}"
                )
            body = bytearray()
            for chunk in response.iter_raw():
                body += chunk
                if len(body) > limit:
                    raise Verdict("bad_media", f"{who} sent more than {limit} bytes for its {what}", url)
                if time.monotonic() >= deadline:  # a trickling sender never ends a read timeout
                    raise Verdict("timeout", f"{who} was still sending its {what} at the check's deadline", url)
            encoding = response.headers.get("content-encoding", "")
        finally:
            response.close()
        return fetching.decode(bytes(body), encoding, limit)
    except fetching.TooLarge as exc:
        raise Verdict("bad_media", f"{who} sent a {what} that {exc}", url) from None
    except fetching.Undecodable as exc:
        raise Verdict("bad_media", f"{who} sent a {what} that is not validly compressed", f"{exc} for {url}") from None
    except netguard.UnsafeAddress as exc:
        raise Verdict("not_public", f"{who}'s address is not public", exc.reason) from None
    except httpx.TimeoutException:
        raise Verdict("timeout", f"{who} did not answer within the timeouts", url) from None
    except httpx.InvalidURL as exc:
        raise Verdict("bad_media", f"{who} listed an invalid URL", f"{exc}") from None
    except httpx.HTTPError as exc:
        raise Verdict(
            "unreachable", f"{who} could not be reached", f"{exc.__class__.__name__}: {exc} for {url}"
        ) from None


def media_uris(playlist_url: str, text: str, *, who: str) -> list[str]:
    try:
        return playlists.absolute_uris(playlist_url, text)
    except ValueError as exc:  # e.g. "http://[oops/seg.ts"
        raise Verdict("bad_media", f"{who} playlist lists an invalid URI", str(exc)) from None


def read_playlist(
    http: httpx.Client,
    url: str,
    *,
    who: str,
    deadline: float,
    host: tuple[str, int] | None = None,
    page_url: str = "",
) -> list[str]:
    """Segment URLs of a media playlist; follows one level of master playlist (SRS's hls_ctx).

    With ``host``, a playlist that points anywhere else is a redirect, and is not fetched.
    """
    raw = fetch(http, url, MAX_PLAYLIST_BYTES, who=who, deadline=deadline, page_url=page_url)
    text = raw.decode("utf-8", errors="replace")
    if not playlists.is_playlist(text):
        raise Verdict("bad_media", f"{who} playlist is not HLS")
    uris = media_uris(url, text, who=who)
    if playlists.is_master(text) and uris:
        url = uris[0]
        if host is not None and not same_host(url, host):
            raise Verdict("redirect", f"{who} playlist points at another host", url[:200])
        raw = fetch(http, url, MAX_PLAYLIST_BYTES, who=who, deadline=deadline, page_url=page_url)
        text = raw.decode("utf-8", errors="replace")
        uris = media_uris(url, text, who=who)
    return uris


def inspect_node(
    playlist_url: str, *, page_url: str = "", audit: Mapping[str, Mapping[str, int]] | None = None
) -> Inspection:
    """Play the node's stream as a viewer would (see fetching.py): the playlist, then the segment
    viewers most recently reported that is still listed, and the newest, in playlist order with a
    player's pauses; nothing off the node's host. Fingerprints every frame loaded.

    ``audit`` maps segment URLs to the SHA-256 hashes viewers reported for them, with how many
    tickets reported each: bytes of ours that viewers never got, where at least CLOAK_MIN_TICKETS
    viewers agree on other bytes, mean the node serves the checker something else (``cloaked``).
    """
    found = Inspection()
    found.evidence["playlist"] = playlist_url
    host = origin_of(playlist_url)
    deadline = time.monotonic() + NODE_CHECK_SECONDS
    audit = audit or {}
    with fetching.client() as http:
        try:
            segments = read_playlist(http, playlist_url, who="node", deadline=deadline, host=host, page_url=page_url)
            if not segments:
                raise Verdict("unreachable", "node playlist lists no segments")
            for url in segments:
                if not same_host(url, host):
                    raise Verdict("redirect", "node lists its segments on another host", url[:200])
            # The segment viewers reported most recently, fetched even if the playlist served to the
            # checker does not list it: a relay cannot hide it behind other segment names.
            listed = [url for url in segments[:-1] if url in audit]
            unlisted = [url for url in audit if same_host(url, host) and url not in segments][-1:]
            audited = listed[-1:] or unlisted
            chosen = [*audited, segments[-1]] if audited else segments[-2:]
            found.evidence["segments"] = [url[:300] for url in chosen]
            loaded: list[bytes] = []
            for url in chosen:
                pause = random.uniform(*PLAYER_PAUSE)  # noqa: S311  (jitter, not a secret)
                time.sleep(pause)
                found.paused += pause
                try:
                    data = fetch(
                        http, url, MAX_SEGMENT_BYTES, who="node", deadline=deadline, page_url=page_url, what="segment"
                    )
                except Verdict as gone:
                    if url not in unlisted or gone.outcome != "unreachable":
                        raise
                    # Rotated out of an honest relay's window as well as hidden: no verdict from it.
                    found.evidence["audited_gone"] = url[:300]
                    continue
                found.evidence["segment_bytes"] = found.evidence.get("segment_bytes", 0) + len(data)
                ours = hashlib.sha256(data).hexdigest()
                found.fetched[url] = (ours, len(data))
                _compare_with_viewers(url, ours, audit.get(url), found)
                if url not in unlisted:  # older than the playlist's window: compared by hash only
                    loaded.append(data)
            # The node's part ends with its last byte: fingerprinting is the checker's own work and
            # must not eat into the node's deadline when the checker's CPU is busy.
            found.finished = time.monotonic()
            for data in loaded:
                try:
                    found.node_prints += frame_fingerprints(data)
                except MediaError as exc:
                    raise Verdict("bad_media", str(exc)) from None
        except Verdict as verdict:
            found.outcome = verdict.outcome
            found.evidence["reason"] = verdict.reason[:500]
            if verdict.detail:
                found.evidence["staff_detail"] = verdict.detail[:500]
    found.finished = found.finished or time.monotonic()
    return found


def _compare_with_viewers(url: str, ours: str, reported: Mapping[str, int] | None, found: Inspection) -> None:
    """``ours``: the SHA-256 of the bytes the checker got for ``url``."""
    if not reported:
        return
    found.evidence.setdefault("audited", []).append(url[:300])
    # Tickets are votes: the relay's own tickets reporting the checker's bytes do not outweigh
    # more viewers who agree they got something else.
    agreed = max((tickets for digest, tickets in reported.items() if digest != ours), default=0)
    if agreed == 0:
        return
    if agreed >= CLOAK_MIN_TICKETS and agreed > reported.get(ours, 0):
        raise Verdict("cloaked", f"{agreed} viewers were sent other bytes for {url[:200]} than the checker")
    # Fewer disagreeing viewers than that proves nothing (forged reports must not frame an honest node).
    found.evidence["lone_disagreement"] = url[:300]


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
    with fetching.client() as http:
        try:
            deadline = time.monotonic() + NODE_CHECK_SECONDS
            body = fetch(http, url, MAX_PLAYLIST_BYTES, who="node", deadline=deadline, what="/healthz")
            value = json.loads(body).get("node_id")
        except (Verdict, ValueError, AttributeError, RecursionError):
            return None
    return value if isinstance(value, int) else None


def origin_window(
    playlist_url: str, newest: int = ORIGIN_SEGMENTS, *, known: dict[str, list[bytes]] | None = None
) -> tuple[list[bytes], list[str]]:
    """Fingerprints of the origin's ``newest`` segments, and which segments they came from.

    ``known`` maps segment URLs to their fingerprints from earlier reads, kept by the caller: a
    listed segment's bytes never change, so each is fetched and fingerprinted once however often
    the window is read (most of a check's CPU otherwise). Trimmed here to what is listed now.
    """
    prints: list[bytes] = []
    with fetching.client(node=False) as http:  # the operator's origin: internal by design
        try:
            deadline = time.monotonic() + ORIGIN_CHECK_SECONDS
            segments = read_playlist(http, playlist_url, who="origin", deadline=deadline)[-newest:]
            for url in segments:
                if known is not None and url in known:
                    prints.extend(known[url])
                    continue
                try:
                    data = fetch(http, url, MAX_SEGMENT_BYTES, who="origin", deadline=deadline, what="segment")
                    found = frame_fingerprints(data)
                except Verdict:
                    continue  # rotated away between playlist and fetch
                prints.extend(found)
                if known is not None:
                    known[url] = found
        except Verdict as exc:  # the origin is ours: its details are for the operator
            raise OriginUnavailable(f"{exc.reason} ({exc.detail})" if exc.detail else exc.reason) from None
        except MediaError as exc:
            raise OriginUnavailable(str(exc)) from None
    if known is not None:
        for url in set(known) - set(segments):
            del known[url]
    if not prints:
        raise OriginUnavailable(f"no frames at {playlist_url}")
    return prints, segments
