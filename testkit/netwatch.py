"""Watching where the process connects, for the SSRF tests (validation, nodes): context
managers that the tests wrap in fixtures.

- ``hosts_file``: names that resolve to chosen addresses through the real resolver (lines added
  to /etc/hosts, each marked, removed on teardown; the tests run as root, as CI does).
- ``watch_connections``: every ``socket.connect`` the process makes while the test runs (a Python audit
  hook: the real call, observed, not a stand-in). Any target off this machine is also refused
  there: if the guard under test were broken, its traffic still would not leave the machine.
- ``listen_on_loopback``: a socket listening on 127.0.0.1 and ::1 on one port, counting what it
  accepts: proof that nothing reached this machine's services.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOSTS = Path("/etc/hosts")

_watching: list[list[tuple[str, int]]] = []  # the connect logs of the tests running now


def _reaches_this_machine(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False  # a name: connect() never gets one from the code under test
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified  # 0.0.0.0 and :: reach the loopback on Linux


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event != "socket.connect" or not _watching:
        return
    target = args[1]
    if not isinstance(target, tuple):
        return  # a Unix socket
    host, port = str(target[0]), int(target[1])
    for log in _watching:
        log.append((host, port))
    if not _reaches_this_machine(host):
        raise ConnectionRefusedError(f"test network guard: {host}:{port} is off this machine")


sys.addaudithook(_audit)  # hooks cannot be removed: it does nothing unless a test is watching


@contextlib.contextmanager
def watch_connections() -> Iterator[list[tuple[str, int]]]:
    """(host, port) of every connect() while the test runs."""
    log: list[tuple[str, int]] = []
    _watching.append(log)
    try:
        yield log
    finally:
        _watching.remove(log)


@contextlib.contextmanager
def _hosts_locked() -> Iterator[None]:
    """/etc/hosts is one file for every test process on the machine (`make test` runs two xdist
    workers): each edit, an append or the rewrite on teardown, holds this lock, so a rewrite never
    writes back a copy read before another process's append (that lost a name mid-test)."""
    with HOSTS.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def hosts_file() -> Iterator[Callable[[str, str], None]]:
    """add(address, name): ``name`` resolves to ``address`` until the test ends."""
    marker = f"# streamr-test {uuid.uuid4().hex}"

    def add(address: str, name: str) -> None:
        with _hosts_locked(), HOSTS.open("a") as hosts:
            hosts.write(f"{address} {name} {marker}\n")
        assert any(str(found[4][0]) == address for found in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM))

    try:
        yield add
    finally:
        with _hosts_locked():
            _forget(marker)


_BLANKED = "#streamr-test-done"


def _forget(marker: str) -> None:
    """Drop this test's lines without a moment in which the file is empty: another xdist worker's
    resolver reads /etc/hosts at any time, unlocked, and truncating first (``write_text``) once
    made its name unresolvable. The file is rewritten in place (it may be a bind mount): our lines
    are blanked to comments of the same length, so no other byte moves; once no test has a line
    left, the blanked ones are dropped by writing the shorter text over the old and truncating
    after it (a reader then sees at worst a stale tail, never a missing line)."""
    lines = HOSTS.read_text().splitlines(keepends=True)
    lines = [_BLANKED.ljust(len(line) - 1)[: len(line) - 1] + "\n" if marker in line else line for line in lines]
    if not any("# streamr-test " in line for line in lines):
        lines = [line for line in lines if not line.startswith(_BLANKED)]
    text = "".join(lines).encode()
    with HOSTS.open("r+b") as hosts:
        hosts.write(text)
        hosts.truncate(len(text))


@dataclass
class Listener:
    port: int
    accepted: list[str] = field(default_factory=list)

    def settled(self) -> list[str]:
        """What was accepted, once a connection made just before has had time to be accepted."""
        time.sleep(0.2)
        return list(self.accepted)


@contextlib.contextmanager
def listen_on_loopback() -> Iterator[Listener]:
    """Listens on 127.0.0.1:<port> and [::1]:<port>; every connection is accepted, noted, closed."""
    v4 = socket.create_server(("127.0.0.1", 0))
    port = v4.getsockname()[1]
    v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    v6.bind(("::1", port))
    v6.listen()
    found = Listener(port)
    stop = threading.Event()

    def serve(server: socket.socket) -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                peer, address = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            found.accepted.append(str(address[0]))
            peer.close()

    threads = [threading.Thread(target=serve, args=(server,), daemon=True) for server in (v4, v6)]
    for thread in threads:
        thread.start()
    try:
        yield found
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=2)
        v4.close()
        v6.close()
