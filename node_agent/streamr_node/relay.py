"""Supervises ffmpeg pulling the assigned stream from the origin into a local HLS directory.

``-c copy`` keeps every video frame bit-identical to the origin's (that is what spot-checks
verify). ffmpeg is restarted with backoff when the origin drops or the output stalls; the HLS
directory keeps a bounded window (``hls_list_size`` segments, older ones deleted).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import shutil
import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import ffmpeg

from streamr_node.backoff import Backoff
from streamr_node.server import SLUG

log = logging.getLogger("streamr_node.relay")

PR_SET_PDEATHSIG = 1
SEGMENT_SECONDS = 1
PLAYLIST_SEGMENTS = 10
STALL_SECONDS = 15.0  # running but writing nothing this long: restart
STABLE_SECONDS = 30.0  # ran this long: the next failure starts the backoff afresh


def find_ffmpeg() -> str:
    """The system ffmpeg, else the binary bundled with imageio-ffmpeg (pip install is enough)."""
    system = shutil.which("ffmpeg")
    if system:
        return system
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def valid_assignment(slug: str, rtmp_url: str) -> bool:
    parts = urlsplit(rtmp_url)
    return bool(SLUG.match(slug)) and parts.scheme in {"rtmp", "rtmps"} and bool(parts.hostname)


def _die_with_parent() -> None:
    """In the ffmpeg child: get SIGTERM when the agent dies, even by SIGKILL (Linux)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: the data-dir lock still keeps a second agent out


def relay_command(ffmpeg_exe: str, rtmp_url: str, out_dir: Path) -> list[str]:
    source = ffmpeg.input(rtmp_url, rw_timeout=5_000_000)  # µs: give up on a silent origin
    output = ffmpeg.output(
        source,
        str(out_dir / "index.m3u8"),
        c="copy",
        f="hls",
        hls_time=SEGMENT_SECONDS,
        hls_list_size=PLAYLIST_SEGMENTS,
        hls_flags="delete_segments+temp_file+omit_endlist",
        # New names after every restart, so players never get a stale segment under an old name.
        hls_start_number_source="epoch",
        hls_segment_filename=str(out_dir / "seg_%d.ts"),
    )
    args: list[str] = output.global_args("-hide_banner", "-loglevel", "error", "-nostdin").compile(
        cmd=ffmpeg_exe, overwrite_output=True
    )
    return args


class Relay:
    def __init__(self, hls_root: Path, ffmpeg_exe: str | None = None) -> None:
        self.hls_root = hls_root
        self.ffmpeg_exe = ffmpeg_exe or find_ffmpeg()
        self.slug: str | None = None
        self.rtmp_url: str | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._task: asyncio.Task[None] | None = None

    # --- state for heartbeats and /healthz -------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def newest_segment_age(self) -> float | None:
        if self.slug is None:
            return None
        newest = None
        for path in (self.hls_root / self.slug).glob("*.ts"):
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:  # ffmpeg deleted it (delete_segments) after the listing
                continue
            newest = mtime if newest is None else max(newest, mtime)
        return None if newest is None else max(0.0, time.time() - newest)

    # --- control ---------------------------------------------------------------------------------

    async def follow(self, slug: str | None, rtmp_url: str | None) -> None:
        """Relay this stream (or nothing); a change stops the old relay and starts the new one."""
        if slug and rtmp_url and not valid_assignment(slug, rtmp_url):
            # Never let what comes over the wire name a directory or an ffmpeg input of our choosing.
            log.error("ignoring an invalid assignment: stream %r from %r", slug, rtmp_url)
            slug = rtmp_url = None
        if (slug, rtmp_url) == (self.slug, self.rtmp_url):
            return
        await self.stop()
        self.slug, self.rtmp_url = slug, rtmp_url
        if slug and rtmp_url:
            log.info("relaying %s from %s", slug, rtmp_url)
            self._task = asyncio.create_task(self._supervise(slug, rtmp_url))
        else:
            log.info("no assignment: relay idle")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._kill()
        if self.slug:
            shutil.rmtree(self.hls_root / self.slug, ignore_errors=True)
        self.slug = self.rtmp_url = None

    async def _kill(self) -> None:
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=0.5)
            return
        except TimeoutError:
            # ffmpeg stops between packets on the first signal, but a read blocked on a quiet
            # origin is interrupted only by a second one; without it the agent waited out
            # rw_timeout (5 s) on every stop.
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=5)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def _supervise(self, slug: str, rtmp_url: str) -> None:
        backoff = Backoff(base=1.0, cap=30.0)
        out_dir = self.hls_root / slug
        while True:
            shutil.rmtree(out_dir, ignore_errors=True)
            out_dir.mkdir(parents=True, exist_ok=True)
            started = time.monotonic()
            self.process = await asyncio.create_subprocess_exec(
                *relay_command(self.ffmpeg_exe, rtmp_url, out_dir),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
            reason = await self._watch(started)
            await self._kill()
            if time.monotonic() - started >= STABLE_SECONDS:
                backoff.reset()
            delay = backoff.next_delay()
            self.restarts += 1
            log.warning("relay of %s stopped (%s); restarting in %.1f s", slug, reason, delay)
            await asyncio.sleep(delay)

    async def _watch(self, started: float) -> str:
        """Wait until ffmpeg exits or stalls; returns why."""
        process = self.process
        assert process is not None and process.stderr is not None
        stderr = asyncio.create_task(process.stderr.read())
        try:
            while True:
                try:
                    await asyncio.wait_for(process.wait(), timeout=1.0)
                except TimeoutError:
                    age = self.newest_segment_age()
                    waited = time.monotonic() - started
                    if waited > STALL_SECONDS and (age is None or age > STALL_SECONDS):
                        return f"no new segment for {STALL_SECONDS:.0f} s"
                    continue
                output = (await stderr).decode(errors="replace").strip().splitlines()
                last = output[-1] if output else "no error output"
                return f"ffmpeg exited with {process.returncode}: {last}"
        finally:
            if not stderr.done():
                stderr.cancel()
