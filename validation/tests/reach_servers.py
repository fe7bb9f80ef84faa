"""Servers for reachability tests, on loopback: the node agent's own aiohttp server (the real
/healthz), other aiohttp apps (another service on the port), and a port that accepts connections
but never answers. Each runs on its own event loop in a thread and stops when its block ends."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from django_q.signing import SignedPackage
from streamr_node.server import Stats, make_app

from testkit.media import free_port


@contextmanager
def serving(app: web.Application) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1; yields its base URL."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="reach-server", daemon=True)
    thread.start()
    runner = web.AppRunner(app, access_log=None)
    port = free_port()

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    try:
        asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


class Agent:
    """The agent's HTTP server (streamr_node.server.make_app) reporting ``node_id`` on /healthz,
    as ``streamr-node run`` does; ``asked`` counts the /healthz requests it answered."""

    def __init__(self, tmp_path: Path, node_id: int | None) -> None:
        self.node_id = node_id
        self.asked = 0
        self.hls_root = tmp_path / "hls"
        self.hls_root.mkdir(parents=True, exist_ok=True)

    def health(self) -> dict[str, Any]:
        self.asked += 1
        return {"node_id": self.node_id, "stream": None, "ffmpeg_running": False, "version": "test"}

    @contextmanager
    def running(self) -> Iterator[str]:
        with serving(make_app(self.hls_root, Stats(), self.health)) as url:
            yield url


def answering(status: int, body: str, content_type: str = "text/html") -> web.Application:
    """Another service on the port: every path answers ``status`` with ``body``."""

    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=status, text=body, content_type=content_type)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", answer)
    return app


@contextmanager
def silent_port() -> Iterator[str]:
    """A port whose connections the kernel accepts (listen backlog) and nobody ever answers: a
    probe's read times out, as behind a firewall that swallows the request."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def closed_port() -> str:
    """A loopback URL where nothing listens: connections are refused."""
    return f"http://127.0.0.1:{free_port()}"


PROBE_JOB = "validation.tasks.probe_node"


def queued_probes(broker: Any) -> list[tuple[Any, ...]]:
    """Take every queued job off the django-q2 broker; the arguments of the probe jobs."""
    jobs: list[dict[str, Any]] = []
    waiting = broker.queue_size()
    while len(jobs) < waiting:
        for ack, payload in broker.dequeue() or []:
            jobs.append(SignedPackage.loads(payload))
            if ack is not None:
                broker.acknowledge(ack)
    return [tuple(job["args"]) for job in jobs if job["func"] == PROBE_JOB]
