"""A small pool of long-lived media parser processes (validation.media_worker) for the site.

libav parses what nodes send, and nodes may be hostile, so it never runs in a process that holds
the database credentials. Each parser process starts with a clean environment (PATH and locale
only), no inherited descriptor but its pipes, and limits it sets on itself (MEDIA_PARSER_MEMORY_MB
of address space, MEDIA_PARSER_CPU_SECONDS of CPU per parse). A parser that dies, is killed, or
does not answer within WALL_SECONDS is killed and reaped, the segment is refused (``Unparsable``,
"… exceeded its limits …": a node's segment then fails its check as bad media), and the next
parse starts a fresh process. A parser that cannot start at all is the site's trouble, not the
node's: that raises ``ParserUnavailable`` (the check errors and the node comes due again).

Processes are started on demand, at most MEDIA_PARSER_PROCESSES per site process; threads wait
for a free one. Each parse costs a pipe round trip (about a millisecond for a 2 MB segment), not a
process start: a parser serves up to media_worker.MAX_PARSES segments. Children are closed at
exit; after a fork (django-q2 forks its workers) the new process starts its own.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from validation import media_worker

ROOT = Path(__file__).resolve().parent.parent  # where `-m validation.media_worker` is found
ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")  # nothing else reaches a parser
# Segments (and libav's buffers for them) from the heap, kept between parses: glibc's defaults map
# and unmap each anew, a fifth of a parse's CPU in page faults. Still within MEDIA_PARSER_MEMORY_MB.
MALLOC = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=67108864"
START_SECONDS = 30.0  # Python + PyAV start in ~0.2 s; a loaded machine may take far longer
CHUNK = 1024 * 1024
PIPE_BYTES = 1024 * 1024  # Linux's default most for an unprivileged process


class Unparsable(ValueError):
    """The segment is not media the parser can fingerprint, or parsing it exceeded the limits."""


class ParserUnavailable(RuntimeError):
    """No parser process could be started: no verdict on the segment is possible."""


class _Broken(Exception):
    """The parser process stopped answering (died, was killed, timed out)."""


@dataclass(frozen=True)
class Limits:
    memory_mb: int
    cpu_seconds: float

    @property
    def wall_seconds(self) -> float:
        # Room for a loaded machine: a parse normally takes milliseconds of CPU.
        return 2.0 * self.cpu_seconds + 5.0


def current_limits() -> Limits:
    return Limits(settings.MEDIA_PARSER_MEMORY_MB, settings.MEDIA_PARSER_CPU_SECONDS)


def clean_environment() -> dict[str, str]:
    return {name: os.environ[name] for name in ENVIRONMENT if name in os.environ} | {"GLIBC_TUNABLES": MALLOC}


class _Parser:
    """One parser process; used by one thread at a time (the pool sees to it)."""

    def __init__(self, limits: Limits, generation: int) -> None:
        self.limits = limits
        self.generation = generation
        self.retiring = False
        command = [sys.executable, "-E", "-s", "-m", "validation.media_worker"]
        try:
            self.process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
                [*command, str(limits.memory_mb), str(limits.cpu_seconds)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                cwd=ROOT,
                env=clean_environment(),
                close_fds=True,  # the database's and Redis's sockets stay here
                bufsize=0,
            )
        except OSError as exc:
            raise ParserUnavailable(f"the media parser did not start: {exc}") from None
        assert self.process.stdin is not None and self.process.stdout is not None
        self._to, self._from = self.process.stdin.fileno(), self.process.stdout.fileno()
        os.set_blocking(self._to, False)
        with contextlib.suppress(OSError):  # a segment in ~2 pipefuls instead of ~35 (a switch each)
            fcntl.fcntl(self._to, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        os.set_blocking(self._from, False)
        try:
            ready = self._read(len(media_worker.READY), time.monotonic() + START_SECONDS)
        except _Broken as exc:
            self.kill()
            raise ParserUnavailable(f"the media parser did not start: {exc}") from None
        if ready != media_worker.READY:
            self.kill()
            raise ParserUnavailable(f"the media parser did not start: it said {ready!r}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def parse(self, segment: bytes) -> tuple[bytes, bytes]:
        """(kind, payload) of media_worker's answer; raises _Broken."""
        deadline = time.monotonic() + self.limits.wall_seconds
        self._write(media_worker.REQUEST.pack(len(segment)), deadline)
        self._write(segment, deadline)
        kind, retire, size = media_worker.ANSWER.unpack(self._read(media_worker.ANSWER.size, deadline))
        payload = self._read(size, deadline)
        self.retiring = retire != b"\x00"
        return kind, payload

    def _write(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            self._wait(self._to, select.POLLOUT, deadline)
            try:
                sent = os.write(self._to, view[:CHUNK])
            except BlockingIOError:
                continue
            except OSError:  # EPIPE: it died
                raise _Broken(self._ended()) from None
            view = view[sent:]

    def _read(self, size: int, deadline: float) -> bytes:
        data = bytearray()
        while len(data) < size:
            self._wait(self._from, select.POLLIN, deadline)
            try:
                got = os.read(self._from, min(size - len(data), CHUNK))
            except BlockingIOError:
                continue
            if not got:
                raise _Broken(self._ended())
            data += got
        return bytes(data)

    def _wait(self, fd: int, event: int, deadline: float) -> None:
        poller = select.poll()
        poller.register(fd, event)
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            self.kill()
            raise _Broken(f"no answer within {self.limits.wall_seconds:g} s")

    def _ended(self) -> str:
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "it closed its pipe"
        if code in (-signal.SIGPROF, -signal.SIGXCPU):
            return f"more than {self.limits.cpu_seconds} s of CPU"
        if code == media_worker.OUT_OF_MEMORY:
            return f"more than {self.limits.memory_mb} MiB of memory"
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"it exited with status {code}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """End it now and reap it (no zombie)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._close_pipes()

    def close(self, timeout: float = 2.0) -> None:
        """End of input: it exits by itself (killed if it does not within ``timeout``)."""
        self._close_pipes()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def forget(self) -> None:
        """In a forked process: the parser belongs to the parent; drop our copies of its pipes."""
        self._close_pipes()
        self.process.returncode = 0  # never waited for here (it is not our child)

    def _close_pipes(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


class Pool:
    """At most MEDIA_PARSER_PROCESSES parsers, each lent to one thread at a time."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._idle: list[_Parser] = []
        self._lent = 0  # parsers lent out or starting
        self._generation = 0  # close() bumps it: parsers lent out before are not taken back

    def parse(self, segment: bytes) -> list[bytes]:
        if len(segment) > media_worker.MAX_REQUEST_BYTES:
            raise Unparsable(f"segment of {len(segment)} bytes is over the parser's limit")
        parser = self._borrow(current_limits())
        try:
            kind, payload = parser.parse(segment)
        except _Broken as exc:
            self._give_back(parser, broken=True)
            raise Unparsable(f"the media parser exceeded its limits: {exc}") from None
        except BaseException:
            self._give_back(parser, broken=True)
            raise
        self._give_back(parser)
        if kind == media_worker.PRINTS and len(payload) % media_worker.FINGERPRINT_BYTES == 0:
            size = media_worker.FINGERPRINT_BYTES
            return [payload[at : at + size] for at in range(0, len(payload), size)]
        message = payload.decode("utf-8", "replace")
        if kind == media_worker.LIMIT_ERROR:  # MemoryError while parsing
            raise Unparsable(f"the media parser exceeded its limits: more than {parser.limits.memory_mb} MiB of memory")
        raise Unparsable(message or "the media parser gave no answer")

    def pids(self) -> list[int]:
        """The idle parsers' process ids (for tests and diagnostics)."""
        with self._condition:
            return [parser.pid for parser in self._idle]

    def close(self) -> None:
        """Close every idle parser; those lent out are closed when they come back."""
        with self._condition:
            idle, self._idle = self._idle, []
            self._generation += 1
        for parser in idle:
            parser.close()

    def after_fork(self) -> None:
        # The parent's parsers are not ours, and its lock may have been held at the fork.
        for parser in self._idle:
            parser.forget()
        self._condition = threading.Condition()
        self._idle, self._lent = [], 0
        self._generation += 1

    def _borrow(self, limits: Limits) -> _Parser:
        stale: list[_Parser] = []
        try:
            with self._condition:
                while True:
                    while self._idle:
                        parser = self._idle.pop()
                        if parser.limits == limits and parser.alive():
                            self._lent += 1
                            return parser
                        stale.append(parser)
                    if self._lent < settings.MEDIA_PARSER_PROCESSES:
                        self._lent += 1
                        generation = self._generation
                        break
                    self._condition.wait()
        finally:
            for parser in stale:  # killed between parses, or started under other limits
                parser.kill()
        try:
            return _Parser(limits, generation)
        except BaseException:
            with self._condition:
                self._lent -= 1
                self._condition.notify()
            raise

    def _give_back(self, parser: _Parser, *, broken: bool = False) -> None:
        with self._condition:
            self._lent -= 1
            keep = not broken and not parser.retiring and parser.generation == self._generation
            if keep:
                self._idle.append(parser)
            self._condition.notify()
        if not keep:
            parser.kill() if broken else parser.close()


POOL = Pool()
parse = POOL.parse
close = POOL.close
pids = POOL.pids
atexit.register(POOL.close)
os.register_at_fork(after_in_child=POOL.after_fork)
