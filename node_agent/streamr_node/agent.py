"""The running agent: HTTP server + relay + heartbeats, until SIGTERM or Ctrl-C.

Relaying never depends on the coordinator being up: heartbeats that fail are retried with
exponential backoff and jitter while the current relay keeps serving viewers.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from aiohttp import web

from streamr_node import __version__
from streamr_node.backoff import Backoff
from streamr_node.config import Config
from streamr_node.coordinator import Coordinator, CoordinatorError
from streamr_node.relay import Relay
from streamr_node.server import Stats, make_app

log = logging.getLogger("streamr_node.agent")


class Agent:
    def __init__(self, config: Config, *, relay: Relay | None = None) -> None:
        self.config = config
        self.stats = Stats()
        self.relay = relay or Relay(config.hls_root())
        self.coordinator = Coordinator(config.coordinator, config.api_key)
        self.session = uuid.uuid4().hex  # tells the coordinator our counters restarted at zero
        self.session_started_at = datetime.now(UTC).isoformat()
        self.seq = 0
        self.interval = 10.0
        self.started = time.monotonic()
        self.last_heartbeat_ok: float | None = None
        self.stopping = asyncio.Event()

    def health(self) -> dict[str, Any]:
        return {
            "node_id": self.config.node_id,
            "stream": self.relay.slug,
            "ffmpeg_running": self.relay.running,
            "newest_segment_age": self.relay.newest_segment_age(),
            "relay_restarts": self.relay.restarts,
            "viewers": self.stats.viewers(),
            "coordinator_ok": self.last_heartbeat_ok is not None
            and time.monotonic() - self.last_heartbeat_ok < 3 * self.interval,
            "version": __version__,
        }

    def heartbeat_payload(self) -> dict[str, Any]:
        self.seq += 1
        return {
            "seq": self.seq,
            "agent_session": self.session,
            "session_started_at": self.session_started_at,
            "stream": self.relay.slug or "",
            "public_url": self.config.public_url,
            "counters": {
                "bytes_served": self.stats.bytes_served,
                "segments_served": self.stats.segments_served,
                "http_requests": self.stats.http_requests,
            },
            "viewers": self.stats.viewers(),
            "relay": {
                "ffmpeg_running": self.relay.running,
                "newest_segment_age": self.relay.newest_segment_age(),
            },
            "agent_version": __version__,
        }

    async def run(self) -> None:
        host, port = self.config.listen_address()
        self.config.hls_root().mkdir(parents=True, exist_ok=True)
        lock = lock_data_dir(self.config.hls_root().parent)
        runner = web.AppRunner(make_app(self.config.hls_root(), self.stats, self.health), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        log.info(
            "node %s serving http://%s:%d (public %s)",
            self.config.node_id,
            host,
            port,
            self.config.public_url,
        )
        try:
            await self._heartbeats()
        finally:
            log.info("stopping")
            await self.relay.stop()
            await runner.cleanup()
            await self.coordinator.close()
            lock.close()

    async def _heartbeats(self) -> None:
        backoff = Backoff(base=1.0, cap=60.0)
        while not self.stopping.is_set():
            try:
                answer = await self.coordinator.heartbeat(self.heartbeat_payload())
            except CoordinatorError as exc:
                delay = exc.retry_after if exc.status == 429 and exc.retry_after else backoff.next_delay()
                if exc.status == 401:
                    log.error("the coordinator refused this node's API key; register again if this persists")
                log.warning("heartbeat failed (%s); still relaying, retry in %.1f s", exc, delay)
            else:
                backoff.reset()
                self.last_heartbeat_ok = time.monotonic()
                self.interval = float(answer.get("next_heartbeat_in") or self.interval)
                assignment = answer.get("assignment") or {}
                await self.relay.follow(assignment.get("stream"), assignment.get("origin_rtmp_url"))
                delay = self.interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=delay)


class AgentError(Exception):
    pass


def lock_data_dir(data_dir: Path) -> IO[str]:
    """One agent per data directory: a second one would fight the first over the HLS files."""
    handle = (data_dir / "agent.lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise AgentError(f"another streamr-node runs with the data directory {data_dir}") from None
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def run_forever(config: Config) -> None:
    async def main() -> None:
        agent = Agent(config)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, agent.stopping.set)
        await agent.run()

    asyncio.run(main())
