"""The ``streamr-node`` command line: where ``--config`` may go, ``register``, ``status``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cli_runner import run_cli
from streamr_node import cli
from streamr_node.config import Config, load, save
from streamr_node.server import Stats, make_app

COORDINATOR = "<coordinator>"
Handler = Callable[[web.Request], Awaitable[web.Response]]


@pytest.mark.parametrize("command", ["run", "status"])
def test_accepts_config_before_the_subcommand(tmp_path, capsys, command):
    missing = tmp_path / "before.json"
    assert cli.main(["--config", str(missing), command]) == 2
    assert str(missing) in capsys.readouterr().err


@pytest.mark.parametrize("command", ["run", "status"])
def test_accepts_config_after_the_subcommand(tmp_path, capsys, command):
    missing = tmp_path / "after.json"
    assert cli.main([command, "--config", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_the_subcommands_config_wins_over_the_top_level_one(tmp_path, capsys):
    assert cli.main(["--config", str(tmp_path / "top.json"), "run", "--config", str(tmp_path / "sub.json")]) == 2
    err = capsys.readouterr().err
    assert "sub.json" in err and "top.json" not in err


def test_without_config_the_default_file_is_used(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert cli.main(["run"]) == 2
    assert str(tmp_path / "streamr-node" / "config.json") in capsys.readouterr().err


async def serving(app: web.Application) -> TestServer:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(access_log=None)
    return server


def register_against(answer: Handler, *args: str) -> tuple[int, str, str]:
    """``streamr-node`` with ``args`` (``COORDINATOR`` stands for the URL of a coordinator whose
    register endpoint is ``answer``)."""

    async def main() -> tuple[int, str, str]:
        app = web.Application()
        app.router.add_post("/api/v1/nodes/register", answer)
        server = await serving(app)
        try:
            return await run_cli(*(str(server.make_url("")) if arg == COORDINATOR else arg for arg in args))
        finally:
            await server.close()

    return asyncio.run(main())


def test_register_with_config_after_the_subcommand_saves_there(tmp_path):
    config = tmp_path / "node" / "config.json"
    seen: dict[str, object] = {}

    async def register(request: web.Request) -> web.Response:
        seen.update(await request.json())
        return web.json_response({"node_id": 12, "api_key": "nk_fresh", "approval": "pending"}, status=201)

    code, out, err = register_against(
        register,
        "register",
        "--config",
        str(config),
        "--coordinator",
        COORDINATOR,
        "--token",
        "et_once",
        "--public-url",
        "http://n:8090/",
        "--name",
        "n",
        "--listen",
        "127.0.0.1:8091",
    )
    assert code == 0, err
    assert "Registered node 12 (pending)" in out and str(config) in out
    assert seen == {"token": "et_once", "name": "n", "public_url": "http://n:8090/"}
    saved = load(config)
    assert (saved.node_id, saved.api_key, saved.listen) == (12, "nk_fresh", "127.0.0.1:8091")
    assert saved.public_url == "http://n:8090"  # saved without the trailing slash


def test_register_reports_a_refused_token(tmp_path):
    async def register(request: web.Request) -> web.Response:
        return web.json_response({"error": {"code": "bad_token", "message": "Token used."}}, status=400)

    code, _, err = register_against(
        register,
        "--config",
        str(tmp_path / "c.json"),
        "register",
        "--coordinator",
        COORDINATOR,
        "--token",
        "et_used",
        "--public-url",
        "http://n:8090",
    )
    assert code == 1 and "registration failed: coordinator answered 400: Token used." in err
    assert not (tmp_path / "c.json").exists()


def status_against(tmp_path: Path, app: web.Application) -> tuple[int, str, str]:
    """``streamr-node status`` with both the coordinator and the local agent port on ``app``."""

    async def me(request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer nk_abcdefgh"
        return web.json_response({"status": "online", "approval": "approved", "assignment": "alice"})

    app.router.add_get("/api/v1/nodes/me", me)

    async def main() -> tuple[int, str, str]:
        server = await serving(app)
        try:
            config = tmp_path / "config.json"
            base = str(server.make_url("")).rstrip("/")
            save(Config(base, 7, "nk_abcdefgh", "http://n:8090", "n", listen=f"0.0.0.0:{server.port}"), config)
            return await run_cli("status", "--config", str(config))
        finally:
            await server.close()

    return asyncio.run(main())


def test_status_reports_a_reachable_coordinator_and_a_running_agent(tmp_path):
    health = {"stream": "alice", "ffmpeg_running": True, "newest_segment_age": 0.5, "viewers": 2}
    code, out, err = status_against(tmp_path, make_app(tmp_path / "hls", Stats(), lambda: health))
    assert code == 0, out + err
    assert "reachable; online, approved, relays alice" in out
    assert "running agent; stream alice, ffmpeg running, newest segment 0.5 s, 2 viewer(s)" in out


@pytest.mark.parametrize("status, body", [(404, "no such page"), (200, "<html>a web server</html>"), (200, "[]")])
def test_status_tells_another_server_from_an_agent(tmp_path, status, body):
    async def healthz(request: web.Request) -> web.Response:
        return web.Response(status=status, text=body)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    code, out, _ = status_against(tmp_path, app)
    assert code == 1
    assert "something else answers on 127.0.0.1:" in out
