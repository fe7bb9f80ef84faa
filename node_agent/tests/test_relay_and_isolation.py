"""The ffmpeg relay command, and the rule that the agent never imports Django."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import streamr_node as streamr_node_package
from streamr_node.config import Config, save
from streamr_node.relay import find_ffmpeg, relay_command


def test_relays_with_stream_copy_into_a_bounded_hls_window(tmp_path):
    command = relay_command("/usr/bin/ffmpeg", "rtmp://origin/live/alice", tmp_path)
    joined = " ".join(command)
    assert command[0] == "/usr/bin/ffmpeg"
    assert "-i rtmp://origin/live/alice" in joined
    assert "-c copy" in joined and "-f hls" in joined
    assert "-hls_list_size 10" in joined and "delete_segments" in joined
    assert str(tmp_path / "index.m3u8") in command and "-y" in command


def test_finds_an_ffmpeg_binary():
    assert Path(find_ffmpeg()).exists()


def test_the_agent_never_imports_django():
    code = (
        "import sys, streamr_node.cli, streamr_node.agent, streamr_node.relay, streamr_node.server; "
        "print(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False"


def test_the_agent_needs_no_http_library_but_aiohttp():
    # None in sys.modules makes any "import httpx" fail, as on a machine without it installed.
    code = (
        "import sys; sys.modules['httpx'] = None; "
        "import streamr_node.cli, streamr_node.agent, streamr_node.coordinator, streamr_node.server"
    )
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    # And no other client in its source, at any depth of a function (aiohttp itself uses urllib).
    others = {"httpx", "requests", "urllib3", "urllib.request", "http.client"}
    package = Path(streamr_node_package.__file__).parent
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            assert not others & set(names), f"{module.name} imports {others & set(names)}"


def streamr_node(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "streamr-node"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=60)


def test_the_console_script_prints_its_version():
    result = streamr_node("--version")
    assert result.returncode == 0 and result.stdout.strip() == "streamr-node 0.1.0"


def test_run_without_registering_says_what_to_do(tmp_path):
    result = streamr_node("--config", str(tmp_path / "none.json"), "run")
    assert result.returncode == 2 and "streamr-node register" in result.stderr


def test_status_reports_an_unreachable_coordinator_and_no_running_agent(tmp_path):
    config = tmp_path / "config.json"
    save(Config("http://127.0.0.1:9", 7, "nk_abcdefgh", "http://n:8090", "n", listen="127.0.0.1:9"), config)
    result = streamr_node("--config", str(config), "status")
    assert result.returncode == 1
    assert "node:         7 (n)" in result.stdout and "nk_…efgh" in result.stdout
    assert "unreachable" in result.stdout and "no agent answers" in result.stdout
