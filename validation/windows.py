"""The origin's live window, read once for many concurrent checks (no database).

A node's frames are judged against the origin's newest segments, so the origin must be read after
the node was: a window read before the node's last segment arrived could miss it and fail an honest
node. Checks that finish together share one read that began after all of them finished; at most one
read per origin is in flight, so a thousand checks a minute do not become a thousand origin reads,
and each origin segment is fingerprinted once (a read fetches the playlist and what is new in it).
An OriginWindows lives for one scheduler run (under a minute): nothing it holds outlives a republish
for long, and a failed read forgets the origin's segments at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from validation import checks


@dataclass
class Window:
    prints: list[bytes]
    segments: list[str]
    read_at: float  # time.monotonic() before the playlist was requested
    live: frozenset[bytes] = field(init=False)
    recorded: bool = False  # added to the stream's history (by the one thread that writes)

    def __post_init__(self) -> None:
        self.live = frozenset(self.prints)


class Reader(Protocol):
    def __call__(self, url: str, /, *, known: dict[str, list[bytes]]) -> tuple[list[bytes], list[str]]: ...


class OriginWindows:
    def __init__(self, read: Reader = checks.origin_window) -> None:
        self._read = read
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._known: dict[str, dict[str, list[bytes]]] = {}  # origin playlist -> segment URL -> prints
        self._latest: dict[str, tuple[float, Window | str]] = {}
        self.reads = 0

    def read(self, url: str, *, not_before: float) -> Window:
        """A window of ``url`` read no earlier than ``not_before`` (a time.monotonic() value);
        raises checks.OriginUnavailable when that read failed."""
        with self._guard:
            lock = self._locks.setdefault(url, threading.Lock())
        with lock:
            latest = self._latest.get(url)
            if latest is None or latest[0] < not_before:
                began = time.monotonic()
                self.reads += 1
                known = self._known.setdefault(url, {})
                try:
                    prints, segments = self._read(url, known=known)
                    latest = (began, Window(prints, segments, began))
                except checks.OriginUnavailable as exc:
                    known.clear()
                    latest = (began, str(exc))
                self._latest[url] = latest
        if isinstance(latest[1], str):
            raise checks.OriginUnavailable(latest[1])
        return latest[1]
