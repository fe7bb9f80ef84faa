"""``streamr-node register | run | status | doctor``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
from pathlib import Path

from streamr_node import __version__, checks
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

    status = commands.add_parser(
        "status", parents=[common], help="show the node's state: coordinator, reachability, earning, relay"
    )
    status.add_argument("--listen", default=None, help="HOST:PORT the agent runs on (default: from the config)")

    doctor = commands.add_parser(
        "doctor", parents=[common], help="check ffmpeg, the coordinator, reachability and disk space"
    )
    doctor.add_argument("--listen", default=None, help="HOST:PORT the agent runs on (default: from the config)")
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
        if args.command == "doctor":
            return _doctor(path, args.listen)
        return _status(path, args.listen)
    except (ConfigError, AgentError) as exc:
        print(f"streamr-node: {exc}", file=sys.stderr)
        return 2


PLACEHOLDER_HOST = "your-public-address"  # what /nodes/add shows when it cannot tell the address


def _register(args: argparse.Namespace, path: Path) -> int:
    parse_listen(args.listen)
    if PLACEHOLDER_HOST in args.public_url.lower():
        print(
            "streamr-node: replace YOUR-PUBLIC-ADDRESS in --public-url with the public address of this "
            "machine's network (your router's address on the internet, e.g. http://203.0.113.7:8090) "
            "or a name that points to it",
            file=sys.stderr,
        )
        return 2

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


def _load_with_listen(path: Path, listen: str | None) -> Config:
    config = load(path)
    if listen:
        parse_listen(listen)
        config.listen = listen
    return config


def _status(path: Path, listen: str | None) -> int:
    config = _load_with_listen(path, listen)
    print(f"config:       {path}")
    print(f"node:         {config.node_id} ({config.name}), public URL {config.public_url}")
    print(f"coordinator:  {config.coordinator}, API key {config.api_key[:3]}…{config.api_key[-4:]}")
    site, state = checks.coordinator(config)
    healthy = site.ok
    if state is None:
        print(f"              {site.text}")
    else:
        summary = f"{state['status']}, {state['approval']}, relays {state['assignment']}"
        print(f"              reachable; {summary}")
        reach, earns = checks.reachability(state, config.public_url), checks.earning(state)
        print(f"reachability: {'ok' if reach.ok else 'NOT REACHABLE'} - {reach.text}")
        print(f"earning:      {earns.text}")
    relay = checks.local_agent(config)
    print(f"relay:        {relay.text}")
    return 0 if healthy and relay.ok else 1


def _doctor(path: Path, listen: str | None) -> int:
    config = _load_with_listen(path, listen)
    print(f"streamr-node doctor: node {config.node_id} ({config.name}), config {path}")
    findings = checks.doctor(config)
    for finding in findings:
        mark = "INFO" if finding.informational else "PASS" if finding.ok else "FAIL"
        print(f"{mark}  {finding.name:<13} {finding.text}")
    failed = [f.name for f in findings if not f.ok and not f.informational]
    print(f"{len(failed)} check(s) failed: {', '.join(failed)}" if failed else "All checks passed.")
    return 1 if failed else 0
