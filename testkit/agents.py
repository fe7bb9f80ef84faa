"""Real `streamr-node` processes for live tests: registered through the CLI, stopped on exit."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from testkit.media import free_port


def streamr_node_exe() -> str:
    beside_python = Path(sys.executable).parent / "streamr-node"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("streamr-node")
    if found is None:
        raise RuntimeError("streamr-node is not installed (pip install -e ./node_agent)")
    return found


class AgentProcess:
    def __init__(self, workdir: Path, *, name: str, coordinator: str) -> None:
        self.name = name
        self.coordinator = coordinator
        self.port = free_port()
        self.workdir = workdir / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config = self.workdir / "config.json"
        self.log_path = self.workdir / "agent.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def playlist_url(self, slug: str) -> str:
        return f"{self.base_url}/hls/{slug}/index.m3u8"

    def cli(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [streamr_node_exe(), "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def register(self, token: str) -> int:
        result = self.cli(
            "register",
            "--coordinator",
            self.coordinator,
            "--token",
            token,
            "--name",
            self.name,
            "--public-url",
            self.base_url,
            "--listen",
            f"127.0.0.1:{self.port}",
            "--data-dir",
            str(self.workdir / "data"),
        )
        if result.returncode != 0:
            raise RuntimeError(f"register failed: {result.stderr}")
        return int(result.stdout.split("Registered node ")[1].split()[0])

    def start(self) -> AgentProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [streamr_node_exe(), "--config", str(self.config), "run"], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        return self

    def stop(self) -> int | None:
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        return process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> AgentProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
