"""``streamr-node status`` and ``doctor`` against a real coordinator (an aiohttp server answering
GET /api/v1/nodes/me) and a real local agent: reachability and earning in plain words, PASS/FAIL
lines, and a non-zero exit when a check fails."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cli_runner import run_cli
from streamr_node import checks
from streamr_node.config import Config, save
from streamr_node.server import Stats, make_app

API_KEY = "nk_abcdefgh"
HEALTH = {"stream": "alice", "ffmpeg_running": True, "newest_segment_age": 0.5, "viewers": 2}
REACHABLE = {"ok": True, "verdict": "ok", "detail": "reachable in 12 ms", "checked_at": "2026-11-27T18:00:05Z"}
REFUSED = {
    "ok": False,
    "verdict": "refused",
    "detail": "Nothing accepted the connection at 198.51.100.4:8090. If the agent is running, "
    "forward TCP port 8090 on your router to this machine.",
    "checked_at": "2026-11-27T18:00:05Z",
}
CANNOT = "viewers cannot reach http://198.51.100.4:8090 (checked 2026-11-27 18:00:05 UTC): Nothing accepted"
EARNING = {"ok": True, "why": "relaying alice, reachable and verified"}
NOT_EARNING = {"ok": False, "why": "viewers cannot reach it (see reachability)"}


def node_state(reachability: dict[str, Any], earning: dict[str, Any]) -> dict[str, Any]:
    return {
        "node_id": 7,
        "name": "den",
        "status": "online",
        "approval": "approved",
        "assignment": "alice",
        "reachability": reachability,
        "earning": earning,
    }


def run_against(
    tmp_path: Path,
    *args: str,
    state: dict[str, Any] | None = None,
    me_status: int = 200,
    agent: bool = True,
) -> tuple[int, str, str]:
    """The console script with ``args`` and a config whose coordinator (and local agent, unless
    ``agent`` is False) is a live aiohttp server here."""

    async def me(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}" or me_status == 401:
            return web.json_response(
                {"error": {"code": "bad_api_key", "message": "Missing or unknown API key."}}, status=401
            )
        return web.json_response(state or node_state(REACHABLE, EARNING))

    async def main() -> tuple[int, str, str]:
        app = make_app(tmp_path / "hls", Stats(), lambda: HEALTH) if agent else web.Application()
        app.router.add_get("/api/v1/nodes/me", me)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server(access_log=None)
        try:
            config = tmp_path / "config.json"
            base = str(server.make_url("")).rstrip("/")
            listen = f"127.0.0.1:{server.port}" if agent else "127.0.0.1:9"  # port 9: nothing listens
            save(
                Config(base, 7, API_KEY, "http://198.51.100.4:8090", "den", listen=listen, data_dir=str(tmp_path)),
                config,
            )
            return await run_cli(*args, "--config", str(config))
        finally:
            await server.close()

    return asyncio.run(main())


def test_status_says_the_node_is_reachable_and_earning(tmp_path):
    code, out, err = run_against(tmp_path, "status")
    assert code == 0, out + err
    assert "reachability: ok - viewers can reach http://198.51.100.4:8090 (checked 2026-11-27 18:00:05 UTC)" in out
    assert "earning:      yes: relaying alice, reachable and verified" in out
    assert "running agent; stream alice" in out


def test_status_says_why_viewers_cannot_reach_the_node_and_why_it_does_not_earn(tmp_path):
    code, out, _ = run_against(tmp_path, "status", state=node_state(REFUSED, NOT_EARNING))
    assert "reachability: NOT REACHABLE - " + CANNOT in out
    assert "forward TCP port 8090 on your router to this machine." in out
    assert "earning:      not now: viewers cannot reach it (see reachability)" in out
    assert code == 0  # the agent runs and the site answers: reachability is advice, not a crash


def test_status_of_a_node_never_probed_says_so_and_what_to_forward(tmp_path):
    unknown = {"ok": False, "verdict": "unknown", "detail": "not checked yet", "checked_at": None}
    _, out, _ = run_against(tmp_path, "status", state=node_state(unknown, NOT_EARNING))
    assert "reachability: NOT REACHABLE - not checked yet" in out
    assert "TCP port 8090 is forwarded on your router" in out


def test_doctor_passes_every_check_of_a_healthy_node(tmp_path):
    code, out, err = run_against(tmp_path, "doctor")
    assert code == 0, out + err
    lines = out.splitlines()
    for name in ("ffmpeg", "coordinator", "reachability", "disk", "agent"):
        assert any(line.startswith(f"PASS  {name}") for line in lines), (name, out)
    assert "INFO  earning       yes: relaying alice" in out
    assert "free for the HLS window in" in out and lines[-1] == "All checks passed."


def test_doctor_fails_an_unreachable_node_with_the_sites_advice(tmp_path):
    code, out, _ = run_against(tmp_path, "doctor", state=node_state(REFUSED, NOT_EARNING))
    assert code == 1
    assert "FAIL  reachability  " + CANNOT in out
    assert "INFO  earning       not now: viewers cannot reach it" in out
    assert out.splitlines()[-1] == "1 check(s) failed: reachability"


def test_doctor_fails_when_the_coordinator_refuses_the_api_key(tmp_path):
    code, out, _ = run_against(tmp_path, "doctor", me_status=401)
    assert code == 1
    assert "refused this node's API key: register again with a new token" in out
    assert "FAIL  reachability  unknown: the site could not be asked" in out
    assert "1 check(s) failed" not in out and "coordinator, reachability" in out


def test_doctor_fails_when_no_agent_runs_and_says_how_to_start_it(tmp_path):
    code, out, _ = run_against(tmp_path, "doctor", agent=False)
    assert code == 1
    assert "FAIL  agent         no agent answers on 127.0.0.1:9 (start it with: streamr-node run)" in out


def test_doctor_fails_an_ffmpeg_that_does_not_run(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    broken = bin_dir / "ffmpeg"
    broken.write_text("#!/bin/sh\necho 'error while loading shared libraries' >&2\nexit 127\n")
    broken.chmod(broken.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")  # the agent's process inherits it
    code, out, _ = run_against(tmp_path, "doctor")
    assert code == 1
    assert f"FAIL  ffmpeg        {broken} exits with 127: error while loading shared libraries" in out


def test_doctor_fails_when_the_coordinator_cannot_be_reached(tmp_path):
    config = tmp_path / "config.json"
    save(Config("http://127.0.0.1:9", 7, API_KEY, "http://198.51.100.4:8090", "den", data_dir=str(tmp_path)), config)
    code, out, _ = asyncio.run(run_cli("doctor", "--config", str(config)))
    assert code == 1
    assert "FAIL  coordinator   coordinator unreachable" in out and "check the address" in out


def test_the_disk_check_fails_below_the_minimum_and_looks_where_the_folder_will_be(tmp_path):
    future = tmp_path / "not" / "made" / "yet" / "hls"
    assert checks.disk(future).ok
    short = checks.disk(future, minimum=1 << 60)
    assert not short.ok and short.text.startswith("only ") and "free some space" in short.text


@pytest.mark.parametrize(
    "count, text", [(512, "512 bytes"), (1536, "1.5 KB"), (200 * 1024 * 1024, "200.0 MB"), (3 << 30, "3.0 GB")]
)
def test_sizes_are_said_in_human_units(count, text):
    assert checks.human_bytes(count) == text


def test_register_refuses_the_pages_placeholder_address_and_says_what_to_put(tmp_path):
    config = tmp_path / "config.json"
    code, _, err = asyncio.run(
        run_cli(
            "register",
            "--config",
            str(config),
            "--coordinator",
            "http://127.0.0.1:9",
            "--token",
            "et_x",
            "--public-url",
            "http://YOUR-PUBLIC-ADDRESS:8090",
        )
    )
    assert code == 2 and "replace YOUR-PUBLIC-ADDRESS in --public-url" in err
    assert not config.exists()  # nothing was sent or saved
