"""Benchmark: how long one spot-check of an honest relay takes, end to end on loopback.

Starts a real nginx-rtmp origin (no hooks), an 8 Mbit/s ffmpeg publisher, a relay made of the
agent's own ffmpeg command and a plain HTTP server, then times CHECKS spot-check inspections
(node playlist + two segments as a player loads them, origin window, fingerprints, verdict) and
counts their outcomes: any verdict but pass is a false positive (docs/TRUST.md). Usage:
    .venv/bin/python bench/spotcheck.py [CHECKS]
"""

from __future__ import annotations

import functools
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from common import print_latencies
from streamr_node.relay import find_ffmpeg, relay_command

from testkit.hls import HlsWatcher
from testkit.media import NginxRtmpOrigin, free_port, missing_media_tools, publish_test_source
from validation import checks, services


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def main(count: int) -> None:
    reason = missing_media_tools()
    if reason:
        raise SystemExit(f"cannot run: {reason}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        origin = NginxRtmpOrigin(work / "origin", hook_base_url=None, secret="").start()
        publisher = publish_test_source(
            origin.rtmp_url("bench"), seconds=count * 2 + 60, video_bitrate="8M", size="1280x720"
        )
        relay_dir = work / "relay" / "hls" / "bench"
        relay_dir.mkdir(parents=True)
        relay = subprocess.Popen(
            relay_command(find_ffmpeg(), origin.rtmp_url("bench"), relay_dir), stderr=subprocess.DEVNULL
        )
        port = free_port()
        server = ThreadingHTTPServer(("127.0.0.1", port), functools.partial(QuietHandler, directory=work / "relay"))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        node_playlist = f"http://127.0.0.1:{port}/hls/bench/index.m3u8"
        try:
            deadline = time.monotonic() + 30
            while HlsWatcher(node_playlist).poll() < 3:
                if time.monotonic() > deadline:
                    raise SystemExit("the relay produced no HLS within 30 s")
                time.sleep(1)
            samples: list[float] = []
            outcomes: Counter[str] = Counter()
            for _ in range(count):
                started = time.perf_counter()
                found = checks.inspect_node(node_playlist)
                live, _ = checks.origin_window(origin.hls_url("bench"))
                verdict = found.outcome or services.judge(found.node_prints, set(live), set()).outcome
                samples.append((time.perf_counter() - started) * 1000)
                outcomes[str(verdict)] += 1
                time.sleep(0.5)
            print(f"{count} spot-checks of an honest relay of an 8 Mbit/s 720p stream, loopback")
            print_latencies({"spot-check": samples})
            print(f"outcomes: {dict(outcomes)}")
        finally:
            server.shutdown()
            for process in (relay, publisher):
                process.terminate()
                process.wait(timeout=10)
            origin.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
