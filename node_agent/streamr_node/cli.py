"""``streamr-node register | run | status``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp

from streamr_node import __version__
from streamr_node.agent import AgentError, run_forever
from streamr_node.config import (
    DEFAULT_LISTEN,
    Config,
    ConfigError,
    default_config_path,
    load,
    parse_listen,
    save,
)
from streamr_node.coordinator import Coordinator, CoordinatorError


def _parser() -> argparse.ArgumentParser:
    config_help = f"config file (default {default_config_path()})"
    parser = argparse.ArgumentParser(prog="streamr-node", description="Relay a StreamrP2P live stream.")
    parser.add_argument("--version", action="version", version=f"streamr-node {__version__}")
    parser.add_argument("--config", type=Path, default=None, help=config_help)
    # Also after the subcommand ("streamr-node run --config X"). SUPPRESS leaves the attribute
    # unset when it is not given there, so it cannot overwrite the top-level value with None.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=config_help)
    commands = parser.add_subparsers(dest="command", required=True)

    register = commands.add_parser("register", parents=[common], help="enroll this machine with a one-time token")
    register.add_argument("--coordinator", required=True, help="the site, e.g. https://streamr.example")
    register.add_argument("--token", required=True, help="one-time enrollment token from the site")
    register.add_argument("--public-url", required=True, help="where viewers reach this node, e.g. http://1.2.3.4:8090")
    register.add_argument("--name", default=socket.gethostname(), help="a name for this node")
    register.add_argument("--listen", default=DEFAULT_LISTEN, help="HOST:PORT to serve on (default %(default)s)")
    register.add_argument("--data-dir", default="", help="where the HLS window is kept")

    run = commands.add_parser("run", parents=[common], help="relay the assigned stream until Ctrl-C")
    run.add_argument("--listen", default=None, help="HOST:PORT to serve on (default: from the config)")
    run.add_argument("--data-dir", default=None, help="where the HLS window is kept")

    status = commands.add_parser("status", parents=[common], help="show the configuration, coordinator and relay state")
    status.add_argument("--listen", default=None, help="HOST:PORT the agent runs on (default: from the config)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    path: Path = args.config or default_config_path()
    try:
        if args.command == "register":
            return _register(args, path)
        if args.command == "run":
            return _run(args, path)
        return _status(path, args.listen)
    except (ConfigError, AgentError) as exc:
        print(f"streamr-node: {exc}", file=sys.stderr)
        return 2


def _register(args: argparse.Namespace, path: Path) -> int:
    parse_listen(args.listen)

    async def call() -> dict[str, object]:
        coordinator = Coordinator(args.coordinator)
        try:
            return await coordinator.register(token=args.token, name=args.name, public_url=args.public_url)
        finally:
            await coordinator.close()

    try:
        answer = asyncio.run(call())
    except CoordinatorError as exc:
        print(f"streamr-node: registration failed: {exc}", file=sys.stderr)
        return 1
    config = Config(
        coordinator=args.coordinator.rstrip("/"),
        node_id=int(str(answer["node_id"])),
        api_key=str(answer["api_key"]),
        public_url=args.public_url.rstrip("/"),
        name=args.name,
        listen=args.listen,
        data_dir=args.data_dir,
    )
    save(config, path)
    print(f"Registered node {config.node_id} ({answer['approval']}); configuration saved to {path}")
    print("Start relaying with: streamr-node run")
    return 0


def _run(args: argparse.Namespace, path: Path) -> int:
    config = load(path)
    if args.listen:
        parse_listen(args.listen)
        config.listen = args.listen
    if args.data_dir is not None:
        config.data_dir = args.data_dir
    run_forever(config)
    return 0


def _status(path: Path, listen: str | None) -> int:
    config = load(path)
    if listen:
        parse_listen(listen)
        config.listen = listen
    print(f"config:      {path}")
    print(f"node:        {config.node_id} ({config.name}), public URL {config.public_url}")
    print(f"coordinator: {config.coordinator}, API key {config.api_key[:3]}…{config.api_key[-4:]}")

    async def me() -> dict[str, object]:
        coordinator = Coordinator(config.coordinator, config.api_key)
        try:
            return await coordinator.me()
        finally:
            await coordinator.close()

    healthy = True
    try:
        state = asyncio.run(me())
        summary = f"{state['status']}, {state['approval']}, relays {state['assignment']}"
        print(f"             reachable; {summary}")
    except CoordinatorError as exc:
        healthy = False
        print(f"             {exc}")
    host, port = config.listen_address()
    local = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host  # noqa: S104
    relay_ok, line = _relay_state(local, port)
    print(f"relay:       {line}")
    return 0 if healthy and relay_ok else 1


def _relay_state(host: str, port: int) -> tuple[bool, str]:
    """Ask the local agent's /healthz; whether it answered as an agent, and a line saying so."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    other = f"something else answers on {address} (not a streamr-node agent)"
    try:
        relay = asyncio.run(_get_json(f"http://{address}/healthz", timeout=3))
        ffmpeg_state = "running" if relay["ffmpeg_running"] else "stopped"
        return True, (
            f"running agent; stream {relay['stream']}, ffmpeg {ffmpeg_state}, "
            f"newest segment {relay['newest_segment_age']} s, {relay['viewers']} viewer(s)"
        )
    except aiohttp.ClientResponseError:  # an HTTP error status: an agent's /healthz always says 200
        return False, other
    except (aiohttp.ClientError, TimeoutError, OSError):
        return False, f"no agent answers on {address} (start it with: streamr-node run)"
    except (ValueError, KeyError, TypeError):
        return False, other


async def _get_json(url: str, *, timeout: float) -> Any:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http,
        http.get(url, allow_redirects=False, raise_for_status=True) as response,
    ):
        return json.loads(await response.read())
