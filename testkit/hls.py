"""Watch HLS playlists over HTTP and fingerprint every new segment (live tests, validation)."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from validation import playlists
from validation.fingerprints import frame_fingerprints


def fetch(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310  (loopback test URLs)
        return bytes(response.read())


@dataclass
class HlsWatcher:
    """Polls one playlist; downloads each segment once and keeps its frames' fingerprints in order."""

    playlist_url: str
    seen: set[str] = field(default_factory=set)
    frames: list[bytes] = field(default_factory=list)
    segments: int = 0
    bytes: int = 0
    errors: list[str] = field(default_factory=list)

    def poll(self) -> int:
        """Fetch the playlist and its new segments; returns how many new segments were read."""
        try:
            playlist = fetch(self.playlist_url).decode("utf-8", errors="replace")
        except (urllib.error.URLError, OSError) as exc:
            self.errors.append(f"playlist: {exc}")
            return 0
        new = 0
        for url in playlists.absolute_uris(self.playlist_url, playlist):
            if url in self.seen:
                continue
            try:
                data = fetch(url)
            except (urllib.error.URLError, OSError) as exc:
                self.errors.append(f"{url}: {exc}")  # deleted between playlist and fetch
                continue
            self.seen.add(url)
            self.frames.extend(frame_fingerprints(data))
            self.segments += 1
            self.bytes += len(data)
            new += 1
        return new
