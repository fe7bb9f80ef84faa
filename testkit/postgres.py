"""A private PostgreSQL server for fault tests that stop and start the database: the machine's
server (and CI's) is shared by every other test, so it is never the one restarted.

Debian's binaries (``/usr/lib/postgresql/<version>/bin``: initdb, pg_ctl). ``initdb`` refuses to
run as root, and tests run as root here and in CI: the cluster then belongs to the ``postgres``
OS user and every command runs as that user (``runuser``). The cluster listens on a free loopback
port, its socket and data live in a temp dir under /tmp (pytest's tmp_path is root's alone, which
the ``postgres`` user cannot enter), and it is stopped and removed on exit, also when a test fails.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from testkit.media import free_port, require

BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def missing_postgres() -> str | None:
    if not BINARIES or not Path(BINARIES[-1], "pg_ctl").exists():
        return "PostgreSQL's server binaries are not installed (apt-get install postgresql)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: initdb refuses root"
    return None


class PrivatePostgres:
    """``with PrivatePostgres() as pg:`` a running server; ``pg.url(name)`` after ``pg.create(name)``."""

    def __init__(self) -> None:
        require(missing_postgres(), "database fault test")
        self.bin = Path(BINARIES[-1])
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="streamr-pg-"))
        self.data = self.base / "data"
        self.log_path = self.base / "server.log"

    def _run(self, *argv: str, timeout: float = 60) -> None:
        command = [str(self.bin / argv[0]), *argv[1:]]
        if os.geteuid() == 0:  # the cluster's files belong to the postgres user
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, timeout=timeout, capture_output=True)

    def __enter__(self) -> PrivatePostgres:
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        try:
            # No fsync: these tests restart the server cleanly (a fast shutdown writes everything
            # out), they do not pull the machine's plug; skipping it keeps migrate quick.
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
            self.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=30)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                # Never leave a server behind: its backends exit when the postmaster is gone.
                with contextlib.suppress(OSError, ValueError, IndexError):
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(self.base, ignore_errors=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", options, "-w", "-t", "30", "start")

    def stop(self) -> None:
        """A clean shutdown that does not wait for clients: open connections are cut off at once
        ("terminating connection due to administrator command"), as a routine restart does."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")

    def restart(self, down_for: float) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def url(self, name: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def create(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
