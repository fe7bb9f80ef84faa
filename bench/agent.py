"""Benchmark: what the node agent costs per relayed 8 Mbit/s stream, and how it serves 100 viewers.

A real nginx-rtmp origin takes an 8 Mbit/s 720p publish (ffmpeg testsrc2, x264 CBR). The real agent
(``streamr_node.agent.Agent``: HTTP server, supervised relay, heartbeat loop) runs as its own
process, its coordinator replaced by one that always assigns the stream (nothing else of the
agent changes). Beside it, on its own, the agent's own ``ffmpeg -c copy`` command pulls the same
stream into HLS: the ceiling.

1. CPU (% of one core, from /proc utime+stime) and peak RSS (VmRSS, sampled every second) of the
   agent's Python process and of its ffmpeg child over SECONDS of steady relaying, beside the plain
   ffmpeg's. Missing frames: every segment the relay and the origin write is kept (hard links, so
   ``delete_segments`` cannot take it); at the end every video frame of both is fingerprinted
   (validation.fingerprints: hashes of the H.264 slices, unchanged by ``-c copy``) and the relay's
   frames must be exactly the origin's, in order, from the relay's first frame to its last; the
   relay's segment numbers must be contiguous and ffmpeg never restarted.
2. VIEWERS players on loopback, each with its own keep-alive connection to each server, poll the
   playlist every target duration and fetch each new segment once (3 from the live edge on
   joining, not counted), as hls.js does; segment fetch time is request to last byte. They take
   turns every few seconds between the agent and nginx serving the same directory (the agent's
   HLS window, live; sendfile, one worker): the ceiling. Taking turns, rather than one after the
   other, keeps whatever else loads the machine from favouring either. nginx rather than python's
   http.server because it is what serves static HLS in production and it sends files as the agent
   does (sendfile), so the gap is the agent's own overhead.

Usage: .venv/bin/python bench/agent.py [SECONDS] [VIEWERS]   (defaults 30 s, 100: ~70 s)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from common import Row

# Only the standard library above: the agent process (``--serve``) runs this file too, and the
# agent never imports Django (bench/common.py sets Django up).

SLUG = "bench"
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


# --- the agent process ------------------------------------------------------------------------


def serve(listen: str, data_dir: str, rtmp_url: str) -> None:
    """The real agent, whose coordinator always answers a heartbeat with this assignment."""
    from streamr_node.agent import Agent
    from streamr_node.config import Config
    from streamr_node.coordinator import Coordinator

    class FixedAssignment(Coordinator):
        async def heartbeat(self, payload: dict[str, Any]) -> dict[str, Any]:
            return {"next_heartbeat_in": 10, "assignment": {"stream": SLUG, "origin_rtmp_url": rtmp_url}}

    config = Config(
        coordinator="http://127.0.0.1:9",
        node_id=1,
        api_key="nk_bench",
        public_url=f"http://{listen}",
        name="bench",
        listen=listen,
        data_dir=data_dir,
    )

    async def main() -> None:
        agent = Agent(config)
        agent.coordinator = FixedAssignment(config.coordinator, config.api_key)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, agent.stopping.set)
        await agent.run()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if "django" in sys.modules:
        raise SystemExit("the agent imported Django")
    asyncio.run(main())


# --- measuring processes ----------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


def rss_split(pid: int) -> tuple[float, float]:
    """Anonymous (heap, stacks, written library data) and file-backed (code of the binary and its
    libraries, shared with other processes running them) resident MB."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(status["RssAnon"].split()[0]) / 1024, int(status["RssFile"].split()[0]) / 1024


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


@dataclass
class Usage:
    """CPU (% of one core) and peak RSS (MB) of some processes over an interval."""

    pids: dict[str, int]
    cpu: dict[str, float] = field(default_factory=dict)
    rss: dict[str, float] = field(default_factory=dict)
    split: dict[str, tuple[float, float]] = field(default_factory=dict)

    def measure(self, seconds: float) -> Usage:
        start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        began = time.monotonic()
        while (left := began + seconds - time.monotonic()) > 0:
            for name, pid in self.pids.items():
                self.rss[name] = max(self.rss.get(name, 0.0), rss_mb(pid))
            time.sleep(min(1.0, left))
        elapsed = time.monotonic() - began
        self.cpu = {name: (cpu_seconds(pid) - start[name]) / elapsed * 100 for name, pid in self.pids.items()}
        self.split = {name: rss_split(pid) for name, pid in self.pids.items()}
        return self


# --- keeping every segment, and comparing frames ------------------------------------------------


class Archiver(threading.Thread):
    """Hard-links every finished .ts of some directories into archives, before they are deleted."""

    def __init__(self, pairs: list[tuple[Path, Path]]) -> None:
        super().__init__(daemon=True)
        self.pairs = pairs
        self.stopping = threading.Event()
        for _, archive in pairs:
            archive.mkdir(parents=True, exist_ok=True)

    def sweep(self) -> None:
        for source, archive in self.pairs:
            with contextlib.suppress(FileNotFoundError):
                for name in os.listdir(source):  # ffmpeg writes seg_N.ts.tmp, then renames it
                    if name.endswith(".ts") and not (archive / name).exists():
                        with contextlib.suppress(FileNotFoundError, FileExistsError):
                            os.link(source / name, archive / name)

    def run(self) -> None:
        while not self.stopping.wait(0.2):
            self.sweep()

    def stop(self) -> None:
        self.stopping.set()
        self.join()
        self.sweep()


def numbered(directory: Path) -> list[tuple[int, Path]]:
    """The .ts files of an archive by their sequence number (seg_N.ts, bench-N.ts)."""
    return sorted((int(p.stem.rsplit("_", 1)[-1].rsplit("-", 1)[-1]), p) for p in directory.glob("*.ts"))


@dataclass
class Frames:
    relay_segments: int
    relay_numbers_contiguous: bool
    relay_frames: int
    origin_frames_same_span: int
    missing: int
    extra: int
    identical: bool

    def __str__(self) -> str:
        order = "identical, in order" if self.identical else "NOT identical"
        numbers = "numbers contiguous" if self.relay_numbers_contiguous else "numbers WITH GAPS"
        return (
            f"{self.relay_segments} relay segments ({numbers}), "
            f"{self.relay_frames} video frames vs {self.origin_frames_same_span} at the origin over the same span: "
            f"{self.missing} missing, {self.extra} extra, {order}"
        )


def compare_frames(relay_archive: Path, origin_archive: Path) -> Frames:
    from validation.fingerprints import frame_fingerprints

    relay_files = numbered(relay_archive)
    numbers = [n for n, _ in relay_files]
    relay = [fp for _, path in relay_files for fp in frame_fingerprints(path.read_bytes())]
    origin = [fp for _, path in numbered(origin_archive) for fp in frame_fingerprints(path.read_bytes())]
    first: dict[bytes, int] = {}
    for index, fp in enumerate(origin):
        first.setdefault(fp, index)
    found = [first[fp] for fp in relay if fp in first]
    expected = origin[min(found) : max(found) + 1] if found else []
    return Frames(
        relay_segments=len(relay_files),
        relay_numbers_contiguous=numbers == list(range(numbers[0], numbers[0] + len(numbers))) if numbers else False,
        relay_frames=len(relay),
        origin_frames_same_span=len(expected),
        missing=sum((Counter(expected) - Counter(relay)).values()),
        extra=sum((Counter(relay) - Counter(expected)).values()),
        identical=bool(relay) and relay == expected,
    )


# --- viewers ----------------------------------------------------------------------------------


@dataclass
class Viewing:
    segment_ms: list[float] = field(default_factory=list)
    playlist_ms: list[float] = field(default_factory=list)
    bytes: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    server_cpu: float = 0.0  # % of one core, the server's processes
    client_cpu: float = 0.0

    def p(self, q: float, samples: list[float] | None = None) -> float:
        ordered = sorted(self.segment_ms if samples is None else samples)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")

    def __str__(self) -> str:
        s = self.segment_ms
        return (
            f"{len(s)} segments ({self.bytes / self.seconds / 1e6:.0f} MB/s), ms p50 {self.p(0.5):.1f} "
            f"p99 {self.p(0.99):.1f} max {max(s, default=float('nan')):.1f}; playlist p99 "
            f"{self.p(0.99, self.playlist_ms):.1f} ms; errors {dict(self.errors) or 0}; "
            f"server CPU {self.server_cpu:.0f} %, client CPU {self.client_cpu:.0f} %"
        )


SLICE_SECONDS = 3.0  # the players switch server this often, so load from elsewhere hits both alike
WARM_UP_SECONDS = 2.0  # joining (3 segments each) is not counted


async def player(
    urls: dict[str, str], schedule: list[tuple[float, str]], viewings: dict[str, Viewing], phase: float
) -> None:
    """One viewer: polls the playlist each target duration and fetches each new segment once,
    from whichever server ``schedule`` (start time, server; "" to stop) names at the time. The
    first turn is a warm-up, not counted: joining fetches 3 segments at once."""
    import aiohttp

    from validation import playlists

    await asyncio.sleep(phase)
    timeout = aiohttp.ClientTimeout(total=10)
    sessions = {name: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), timeout=timeout) for name in urls}
    seen: set[str] | None = None
    try:
        while True:
            polled = time.monotonic()
            server = next((name for at, name in reversed(schedule) if at <= polled), "")
            if not server:
                return
            counted = polled >= schedule[1][0]  # the first turn is the warm-up
            http, viewing = sessions[server], viewings[server] if counted else None
            try:
                started = time.perf_counter()
                async with http.get(urls[server]) as response:
                    text = (await response.read()).decode()
                    response.raise_for_status()
                if viewing is not None:
                    viewing.playlist_ms.append((time.perf_counter() - started) * 1000)
                uris = playlists.absolute_uris(urls[server], text)
                names = {uri.rsplit("/", 1)[1]: uri for uri in uris}  # the same names on every server
                new = list(names)[-3:] if seen is None else [n for n in names if n not in seen]
                seen = set(names) if seen is None else seen | set(names)
                for name in new:
                    started = time.perf_counter()
                    async with http.get(names[name]) as response:
                        body = await response.read()
                        response.raise_for_status()
                    if viewing is not None:
                        viewing.segment_ms.append((time.perf_counter() - started) * 1000)
                        viewing.bytes += len(body)
            except (aiohttp.ClientError, TimeoutError) as exc:
                if viewing is not None:
                    viewing.errors[type(exc).__name__] += 1
            await asyncio.sleep(max(0.0, polled + 1.0 - time.monotonic()))  # target duration 1 s
    finally:
        for session in sessions.values():
            await session.close()


def watch(urls: dict[str, str], pids: dict[str, list[int]], count: int, seconds: float) -> dict[str, Viewing]:
    """``count`` players for ``seconds`` on each server, taking turns in slices; the servers'
    CPU is counted over their own slices."""
    viewings = {name: Viewing() for name in urls}
    rounds = max(1, round(seconds / SLICE_SECONDS))

    async def everyone() -> None:
        start = time.monotonic() + WARM_UP_SECONDS
        schedule = [(0.0, next(iter(urls)))]
        for index in range(rounds * len(urls)):
            schedule.append((start + index * SLICE_SECONDS, list(urls)[index % len(urls)]))
        schedule.append((start + rounds * len(urls) * SLICE_SECONDS, ""))
        players = [
            asyncio.create_task(player(urls, schedule, viewings, random.random()))  # noqa: S311  (join spread)
            for _ in range(count)
        ]
        for (at, server), (until, _) in itertools.pairwise(schedule[1:]):
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            cpu = sum(cpu_seconds(pid) for pid in pids[server])
            await asyncio.sleep(max(0.0, until - time.monotonic()))
            viewings[server].server_cpu += sum(cpu_seconds(pid) for pid in pids[server]) - cpu
            viewings[server].seconds += until - at
        await asyncio.gather(*players)

    client, began = time.process_time(), time.monotonic()
    asyncio.run(everyone())
    client = (time.process_time() - client) / (time.monotonic() - began) * 100
    for viewing in viewings.values():
        viewing.server_cpu *= 100 / viewing.seconds
        viewing.client_cpu = client  # the players of both, all along
    return viewings


# --- the run ----------------------------------------------------------------------------------


def static_nginx(workdir: Path, root: Path, port: int) -> subprocess.Popen[bytes]:
    """nginx serving ``root`` at /hls/ as plainly as it gets: sendfile, one worker, no log."""
    temp = workdir / "temp"
    temp.mkdir(parents=True)
    user = "user root;" if os.geteuid() == 0 else ""
    conf = workdir / "nginx.conf"
    conf.write_text(f"""
daemon off;
master_process on;
worker_processes 1;
{user}
pid {workdir}/nginx.pid;
error_log {workdir}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
    server {{
        listen 127.0.0.1:{port};
        location /hls/ {{ alias {root}/; add_header Cache-Control no-cache; }}
    }}
}}
""")
    command = ["nginx", "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(conf)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def wait_for_segments(directory: Path, count: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while len(list(directory.glob("*.ts"))) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} wrote no HLS in {directory} within {timeout:.0f} s")
        time.sleep(0.2)


@dataclass
class Result:
    seconds: int
    agent: Usage
    plain: Usage
    frames: Frames
    restarts: int
    agent_viewing: Viewing
    static_viewing: Viewing
    viewers: int
    left_behind: list[str]

    @property
    def agent_cpu(self) -> float:
        return self.agent.cpu["agent"] + self.agent.cpu["ffmpeg"]

    @property
    def agent_rss(self) -> float:
        return self.agent.rss["agent"] + self.agent.rss["ffmpeg"]


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL, to a process started in its own session, and its whole group."""
    from testkit.media import stop_process

    stop_process(process, timeout=10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def alive(pids: set[int], marks: list[str]) -> list[str]:
    """Processes still running among ``pids``, or whose command line holds one of ``marks``."""
    left = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if state != "Z" and (int(entry.name) in pids or any(m in command for m in marks)):
                left.append(f"{entry.name} {command}")
    return left


def measure(seconds: int = 30, viewers: int = 100) -> Result:
    import common  # noqa: F401  (the repository on sys.path, Django set up for validation)
    from streamr_node.relay import find_ffmpeg, relay_command

    from testkit.media import (
        NginxRtmpOrigin,
        free_port,
        missing_media_tools,
        publish_test_source,
        stop_process,
        wait_for_port,
    )

    reason = missing_media_tools()
    if reason:
        raise SystemExit(f"cannot run: {reason}")
    view_seconds = max(10, seconds // 2)
    started: list[subprocess.Popen[bytes]] = []
    pids: set[int] = set()
    with tempfile.TemporaryDirectory(prefix="bench-agent-") as tmp:
        work = Path(tmp)
        origin = NginxRtmpOrigin(work / "origin", hook_base_url=None, secret="").start()
        marks = [tmp, f":{origin.rtmp_port}/"]
        archiver: Archiver | None = None
        try:
            pids.add(origin.process.pid if origin.process else 0)
            publisher = publish_test_source(
                origin.rtmp_url(SLUG), seconds=seconds + 2 * view_seconds + 60, video_bitrate="8M", size="1280x720"
            )
            started.append(publisher)
            agent_port = free_port()
            agent_log = (work / "agent.log").open("wb")
            agent = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--serve",
                    f"127.0.0.1:{agent_port}",
                    str(work / "agent"),
                    origin.rtmp_url(SLUG),
                ],
                stdout=agent_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            agent_log.close()
            started.append(agent)
            plain_dir = work / "plain"
            plain_dir.mkdir()
            plain = subprocess.Popen(
                relay_command(find_ffmpeg(), origin.rtmp_url(SLUG), plain_dir),
                stdin=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            started.append(plain)
            pids.update(p.pid for p in started)
            agent_hls = work / "agent" / "hls"
            archiver = Archiver(
                [(agent_hls / SLUG, work / "kept" / "relay"), (origin.hls_dir, work / "kept" / "origin")]
            )
            archiver.start()
            wait_for_segments(agent_hls / SLUG, 3, 30, "the agent")
            wait_for_segments(plain_dir, 3, 30, "plain ffmpeg")
            ffmpegs = children(agent.pid)
            if len(ffmpegs) != 1:
                raise RuntimeError(f"the agent should have one ffmpeg child, has {ffmpegs}")
            relay_pid = ffmpegs[0]
            pids.add(relay_pid)

            # 1. Steady relaying, the agent and plain ffmpeg side by side.
            both = Usage({"agent": agent.pid, "ffmpeg": relay_pid, "plain": plain.pid}).measure(seconds)
            agent_usage = Usage(
                {"agent": agent.pid, "ffmpeg": relay_pid},
                {k: both.cpu[k] for k in ("agent", "ffmpeg")},
                {k: both.rss[k] for k in ("agent", "ffmpeg")},
                {k: both.split[k] for k in ("agent", "ffmpeg")},
            )
            plain_usage = Usage({"plain": plain.pid}, {"plain": both.cpu["plain"]}, {"plain": both.rss["plain"]})
            plain_usage.split = {"plain": both.split["plain"]}
            stop_group(plain)

            # 2. Viewers of the agent, and of nginx serving the same directory, taking turns.
            static_port = free_port()
            static = static_nginx(work / "static", agent_hls, static_port)
            started.append(static)
            pids.add(static.pid)
            wait_for_port(static_port)
            viewings = watch(
                {
                    "agent": f"http://127.0.0.1:{agent_port}/hls/{SLUG}/index.m3u8",
                    "nginx": f"http://127.0.0.1:{static_port}/hls/{SLUG}/index.m3u8",
                },
                {"agent": [agent.pid], "nginx": [static.pid, *children(static.pid)]},
                viewers,
                view_seconds,
            )
            with urllib.request.urlopen(f"http://127.0.0.1:{agent_port}/healthz", timeout=5) as answer:
                health = json.loads(answer.read())
            if children(agent.pid) != [relay_pid]:
                health["relay_restarts"] = max(1, health["relay_restarts"])
        except BaseException:
            print((work / "agent.log").read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        finally:
            for process in reversed(started):  # the agent stops its ffmpeg; nginx goes with its group
                if process is started[0]:  # the publisher, in our own group
                    stop_process(process, timeout=10)
                else:
                    stop_group(process)
            origin.stop()
            if archiver is not None:
                archiver.stop()
            left = alive(pids, marks)
        frames = compare_frames(work / "kept" / "relay", work / "kept" / "origin")
    return Result(
        seconds=seconds,
        agent=agent_usage,
        plain=plain_usage,
        frames=frames,
        restarts=int(health["relay_restarts"]),
        agent_viewing=viewings["agent"],
        static_viewing=viewings["nginx"],
        viewers=viewers,
        left_behind=left,
    )


def to_rows(result: Result) -> list[Row]:
    from common import Row

    ok = result.frames.missing == 0 and result.frames.identical and result.restarts == 0
    caveat = "" if ok else f" ({result.frames.missing} frames missing, {result.restarts} restarts!)"
    return [
        Row(
            f"agent CPU per 8 Mbps stream{caveat}",
            result.agent_cpu,
            "% core",
            "plain ffmpeg -c copy",
            result.plain.cpu["plain"],
            "<= 2 %",
            higher_is_better=False,
        ),
        Row(
            "agent RSS per stream",
            result.agent_rss,
            "MB",
            "plain ffmpeg -c copy",
            result.plain.rss["plain"],
            "<= 80 MB",
            higher_is_better=False,
        ),
        Row(
            f"{result.viewers} viewers p99 segment time",
            result.agent_viewing.p(0.99),
            "ms",
            "nginx static",
            result.static_viewing.p(0.99),
            "<= 200 ms",
            higher_is_better=False,
        ),
    ]


def rows(seconds: int = 30) -> list[Row]:
    return to_rows(measure(seconds))


def main(seconds: int, viewers: int) -> None:
    from common import print_rows

    began = time.monotonic()
    result = measure(seconds, viewers)
    a, p = result.agent, result.plain
    print(f"one 8 Mbit/s 720p30 stream relayed for {seconds} s (steady), loopback, {os.cpu_count()} cores")
    for label, usage, name in (
        ("agent python", a, "agent"),
        ("agent ffmpeg", a, "ffmpeg"),
        ("plain ffmpeg", p, "plain"),
    ):
        anon, file = usage.split[name]
        print(
            f"  {label}  CPU {usage.cpu[name]:5.2f} % core   RSS {usage.rss[name]:5.1f} MB peak"
            f" (at the end: {anon:.1f} anonymous + {file:.1f} file-backed)"
        )
    print(f"  agent total   CPU {result.agent_cpu:5.2f} % core   RSS {result.agent_rss:5.1f} MB")
    print(f"  frames: {result.frames}; relay restarts {result.restarts}")
    turns = f"taking turns every {SLICE_SECONDS:.0f} s"
    print(f"{result.viewers} players, {max(10, seconds // 2)} s on each server, {turns}:")
    print(f"  agent: {result.agent_viewing}")
    print(f"  nginx: {result.static_viewing}")
    print(f"left behind: {result.left_behind or 'nothing'}; {time.monotonic() - began:.0f} s in all")
    print_rows(to_rows(result))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(*sys.argv[2:])
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 30, int(sys.argv[2]) if len(sys.argv) > 2 else 100)
