"""A whole agent, in process, against a coordinator on loopback: heartbeats, retries, quiet logs."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from streamr_node.agent import Agent
from streamr_node.config import Config
from streamr_node.relay import Relay


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_agent(
    tmp_path: Path,
    heartbeat: Callable[[web.Request, Agent], Awaitable[web.Response]],
    while_running: Callable[[Agent, str], Awaitable[None]] | None = None,
    *,
    coordinator: str | None = None,
) -> Agent:
    """Start an agent whose coordinator answers with ``heartbeat``; it runs until someone sets
    ``agent.stopping`` (the heartbeat handler, or ``while_running`` once it is done)."""

    async def main() -> Agent:
        app = web.Application()
        server = TestServer(app, host="127.0.0.1")
        agent_box: list[Agent] = []

        async def handle(request: web.Request) -> web.Response:
            return await heartbeat(request, agent_box[0])

        app.router.add_post("/api/v1/nodes/heartbeat", handle)
        await server.start_server(access_log=None)  # only the agent's own log lines are under test
        port = free_port()
        config = Config(
            coordinator=coordinator or str(server.make_url("")),
            node_id=7,
            api_key="nk_agent",
            public_url=f"http://127.0.0.1:{port}",
            name="n",
            listen=f"127.0.0.1:{port}",
            data_dir=str(tmp_path / "data"),
        )
        agent = Agent(config, relay=Relay(config.hls_root(), ffmpeg_exe="/bin/false"))
        agent_box.append(agent)
        try:
            running = asyncio.create_task(agent.run())
            if while_running is not None:
                await wait_for_port(port)
                await while_running(agent, f"http://127.0.0.1:{port}")
                agent.stopping.set()
            await asyncio.wait_for(running, timeout=20)
        finally:
            await server.close()
        return agent

    return asyncio.run(main())


async def wait_for_port(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.02)
        else:
            writer.close()
            return
    raise AssertionError(f"nothing listens on {port}")


def test_heartbeats_carry_the_key_and_counters_and_log_no_line_per_request(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    beats: list[dict[str, Any]] = []

    async def heartbeat(request: web.Request, agent: Agent) -> web.Response:
        assert request.headers["Authorization"] == "Bearer nk_agent"
        beats.append(await request.json())
        return web.json_response({"next_heartbeat_in": 0.05, "assignment": None})

    async def watch(agent: Agent, base: str) -> None:
        async with aiohttp.ClientSession() as http:
            for _ in range(5):
                async with http.get(f"{base}/healthz") as response:
                    assert (await response.json())["node_id"] == 7
        while len(beats) < 5:
            await asyncio.sleep(0.02)

    agent = run_agent(tmp_path, heartbeat, watch)
    assert [beat["seq"] for beat in beats[:5]] == [1, 2, 3, 4, 5]
    assert {beat["agent_session"] for beat in beats} == {agent.session}
    assert set(beats[0]["counters"]) == {"bytes_served", "segments_served", "http_requests"}
    # Neither the client nor the server side of aiohttp writes a line per request.
    chatty = [r for r in caplog.records if r.name.startswith("aiohttp") and r.levelno >= logging.INFO]
    assert chatty == []
    assert len([r for r in caplog.records if r.levelno >= logging.INFO]) <= 3  # serving, stopping


def test_a_429_waits_the_retry_after_the_coordinator_asked_for(tmp_path, caplog):
    async def heartbeat(request: web.Request, agent: Agent) -> web.Response:
        agent.stopping.set()
        return web.json_response({"error": {"code": "throttled"}}, status=429, headers={"Retry-After": "7"})

    run_agent(tmp_path, heartbeat)
    assert "still relaying, retry in 7.0 s" in caplog.text


def test_a_refused_api_key_says_to_register_again(tmp_path, caplog):
    async def heartbeat(request: web.Request, agent: Agent) -> web.Response:
        agent.stopping.set()
        return web.json_response({"error": {"code": "bad_api_key", "message": "Unknown API key."}}, status=401)

    run_agent(tmp_path, heartbeat)
    assert "refused this node's API key" in caplog.text
    assert "heartbeat failed (coordinator answered 401: Unknown API key.)" in caplog.text


@pytest.mark.parametrize("status", [500, 503])
def test_a_failing_coordinator_is_retried_with_backoff_not_its_retry_after(tmp_path, caplog, status):
    async def heartbeat(request: web.Request, agent: Agent) -> web.Response:
        agent.stopping.set()
        return web.Response(status=status, text="down", headers={"Retry-After": "600"})

    run_agent(tmp_path, heartbeat)
    assert f"coordinator answered {status}" in caplog.text
    assert "retry in 600" not in caplog.text  # only a 429's Retry-After is obeyed


def test_an_unreachable_coordinator_leaves_the_agent_serving(tmp_path, caplog):
    with socket.socket() as bound:  # bound, never listening: every heartbeat is refused
        bound.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{bound.getsockname()[1]}"

        async def never(request: web.Request, agent: Agent) -> web.Response:
            raise AssertionError("the coordinator under test is not this one")

        async def watch(agent: Agent, base: str) -> None:
            while "heartbeat failed" not in caplog.text:
                await asyncio.sleep(0.02)
            async with aiohttp.ClientSession() as http, http.get(f"{base}/healthz") as response:
                health = await response.json()
            assert health["ok"] is True and health["coordinator_ok"] is False

        run_agent(tmp_path, never, watch, coordinator=refused)
    assert "coordinator unreachable" in caplog.text and "still relaying" in caplog.text
