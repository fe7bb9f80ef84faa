"""What ``status`` and ``doctor`` find out: the node's state as the site sees it (GET
/api/v1/nodes/me: reachability and earning in plain words), the local agent, ffmpeg, disk space.

Each check answers a :class:`Finding`; ``doctor`` prints one PASS/FAIL line per finding."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from streamr_node.config import Config
from streamr_node.coordinator import Coordinator, CoordinatorError
from streamr_node.relay import find_ffmpeg

# The HLS window is ~10 segments (tens of MB at stream bitrates); below this the system itself
# is about to fail, and ffmpeg's writes with it.
MIN_FREE_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    text: str
    informational: bool = False  # said, but no reason for doctor to fail (e.g. no stream is live)


def fetch_state(config: Config) -> dict[str, Any]:
    """GET /api/v1/nodes/me with this node's API key (CoordinatorError when that fails)."""

    async def me() -> dict[str, Any]:
        coordinator = Coordinator(config.coordinator, config.api_key)
        try:
            return await coordinator.me()
        finally:
            await coordinator.close()

    return asyncio.run(me())


def port_of(public_url: str) -> int:
    parts = urlsplit(public_url)
    try:
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return 8090


def _when(value: object) -> str:
    if not isinstance(value, str) or not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return f" (checked {value})"
    return f" (checked {moment:%Y-%m-%d %H:%M:%S} UTC)"


def reachability(state: dict[str, Any], public_url: str) -> Finding:
    """Whether viewers can reach the node, as the site's last probe from outside found it; the
    site's detail already says what to do."""
    seen = state.get("reachability")
    if not isinstance(seen, dict):
        return Finding("reachability", False, "the site does not report reachability (an older site?)")
    detail = str(seen.get("detail") or "")
    if seen.get("ok"):
        return Finding("reachability", True, f"viewers can reach {public_url}{_when(seen.get('checked_at'))}")
    if seen.get("verdict") == "unknown":
        return Finding(
            "reachability",
            False,
            "not checked yet: the site checks when the node's first heartbeat arrives (start it with "
            f"'streamr-node run'); make sure TCP port {port_of(public_url)} is forwarded on your router "
            "to this machine",
        )
    return Finding("reachability", False, f"viewers cannot reach {public_url}{_when(seen.get('checked_at'))}: {detail}")


def earning(state: dict[str, Any]) -> Finding:
    seen = state.get("earning")
    if not isinstance(seen, dict):
        return Finding("earning", False, "the site does not report earning (an older site?)", informational=True)
    why = str(seen.get("why") or "")
    if seen.get("ok"):
        return Finding("earning", True, f"yes: {why}" if why else "yes", informational=True)
    return Finding("earning", False, f"not now: {why}" if why else "not now", informational=True)


def coordinator(config: Config) -> tuple[Finding, dict[str, Any] | None]:
    """The site answers and accepts this node's API key; with the node's state when it does."""
    try:
        state = fetch_state(config)
    except CoordinatorError as exc:
        if exc.status == 401:
            text = f"{config.coordinator} refused this node's API key: register again with a new token"
        elif exc.status:
            text = f"{config.coordinator}: {exc}"
        else:
            text = f"{exc} ({config.coordinator}): check the address and this machine's connection"
        return Finding("coordinator", False, text), None
    summary = f"{state.get('status')}, {state.get('approval')}, relays {state.get('assignment') or 'nothing yet'}"
    return Finding("coordinator", True, f"{config.coordinator} accepts this node's API key; {summary}"), state


def ffmpeg() -> Finding:
    try:
        exe = find_ffmpeg()
    except Exception as exc:  # imageio-ffmpeg raises whatever its platform lookup does
        return Finding("ffmpeg", False, f"no ffmpeg found ({exc}): install ffmpeg (e.g. apt-get install ffmpeg)")
    try:
        # The executable is the one the relay itself would run (PATH or imageio-ffmpeg's).
        result = subprocess.run(  # noqa: S603
            [exe, "-hide_banner", "-version"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Finding("ffmpeg", False, f"{exe} does not run: {exc}")
    if result.returncode != 0:
        return Finding("ffmpeg", False, f"{exe} exits with {result.returncode}: {result.stderr.strip()[:200]}")
    version = (result.stdout.splitlines() or ["?"])[0].split(" Copyright")[0]
    return Finding("ffmpeg", True, f"{exe} runs ({version})")


def human_bytes(count: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TB"  # pragma: no cover


def disk(hls_root: Path, minimum: int = MIN_FREE_BYTES) -> Finding:
    """Free space where the HLS window is written (the folder, or where it will be made)."""
    existing = hls_root
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if not os.access(existing, os.W_OK):
        return Finding("disk", False, f"cannot write to {existing} (for the HLS window {hls_root}): use --data-dir")
    if free < minimum:
        return Finding(
            "disk",
            False,
            f"only {human_bytes(free)} free for {hls_root} (needs {human_bytes(minimum)}): free some space",
        )
    return Finding("disk", True, f"{human_bytes(free)} free for the HLS window in {hls_root}")


def local_agent(config: Config) -> Finding:
    """Ask the local agent's /healthz whether it runs, and what it relays."""
    host, port = config.listen_address()
    host = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host  # noqa: S104
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    other = f"something else answers on {address} (not a streamr-node agent)"
    try:
        relay = asyncio.run(_get_json(f"http://{address}/healthz", timeout=3))
        ffmpeg_state = "running" if relay["ffmpeg_running"] else "stopped"
        return Finding(
            "agent",
            True,
            f"running agent; stream {relay['stream']}, ffmpeg {ffmpeg_state}, "
            f"newest segment {relay['newest_segment_age']} s, {relay['viewers']} viewer(s)",
        )
    except aiohttp.ClientResponseError:  # an HTTP error status: an agent's /healthz always says 200
        return Finding("agent", False, other)
    except (aiohttp.ClientError, TimeoutError, OSError):
        return Finding("agent", False, f"no agent answers on {address} (start it with: streamr-node run)")
    except (ValueError, KeyError, TypeError):
        return Finding("agent", False, other)


async def _get_json(url: str, *, timeout: float) -> Any:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http,
        http.get(url, allow_redirects=False, raise_for_status=True) as response,
    ):
        return json.loads(await response.read())


def doctor(config: Config) -> list[Finding]:
    """Every check, in the order a friend fixes things: the tools, the site, the network, disk."""
    findings = [ffmpeg()]
    site, state = coordinator(config)
    findings.append(site)
    if state is None:
        findings.append(Finding("reachability", False, "unknown: the site could not be asked (see coordinator)"))
    else:
        findings.append(reachability(state, config.public_url))
    findings.append(disk(config.hls_root()))
    findings.append(local_agent(config))
    if state is not None:
        findings.append(earning(state))
    return findings
