"""The media parser's own process: libav reads untrusted segments here, never in the site.

Segments come from nodes, so a hostile node chooses the bytes libav parses. This module runs as
``python -m validation.media_worker MEMORY_MB CPU_SECONDS`` under validation.media_sandbox, with an
environment that holds no secret (no DATABASE_URL, SECRET_KEY, HOOK_SECRET …), no inherited file
descriptor but its pipes, and these limits, set on itself before it reads any segment:

- RLIMIT_AS: MEMORY_MB of address space (an allocation beyond it fails: a parse reports it, a
  request too large to read ends the process with status OUT_OF_MEMORY);
- CPU_SECONDS of CPU per parse: a profiling timer (ITIMER_PROF, the process's CPU time to the
  microsecond) armed for each parse, whose SIGPROF ends the process; behind it, the kernel's
  RLIMIT_CPU, whose soft limit is moved before each parse to the CPU used so far + CPU_SECONDS + 1
  (it counts whole seconds), so SIGXCPU ends the process even if the timer did not. The kernel lets
  a process lower its hard limit but never raise it, so the hard limit is fixed at start for the
  process's whole life (LIFETIME_CPU_SECONDS): the process retires before it could reach it;
- RLIMIT_CORE 0 (SIGXCPU would otherwise dump a core) and RLIMIT_FSIZE 0 (nothing to write).

Only the standard library and PyAV are imported, never Django or a project app (import-linter
and a test check it). ``frame_fingerprints`` is the parse itself, callable in-process by tests.

Protocol, on stdin/stdout: the process writes READY once its limits are set. A request is a
4-byte big-endian length and the segment's bytes; the answer is a kind byte (PRINTS, MEDIA_ERROR,
LIMIT_ERROR), a retire byte (1: this process exits after the answer, a fresh one takes over) and a
4-byte length, then the payload: the fingerprints (FINGERPRINT_BYTES each) or a UTF-8 message.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import resource
import signal
import struct
import sys
from typing import BinaryIO

import av

SLICE_NAL_TYPES = frozenset({1, 5})  # coded slice of a non-IDR / IDR picture
_START_CODE = re.compile(b"\x00\x00\x01")
FINGERPRINT_BYTES = 16
# Segments start with their PAT/PMT, which name the streams and codecs: probing further (libav's
# 5 MB / 5 s default) only costs time, two thirds of a segment's demux at 8 Mbit/s.
PROBE = {"probesize": "65536", "analyzeduration": "0"}

READY = b"R"
PRINTS, MEDIA_ERROR, LIMIT_ERROR = b"F", b"E", b"L"
REQUEST = struct.Struct(">I")
ANSWER = struct.Struct(">ccI")
MAX_REQUEST_BYTES = 64 * 1024 * 1024  # twice the checker's segment cap (validation.checks)
MAX_PARSES = 2000  # then a fresh process: whatever libav leaks or fragments never adds up
OUT_OF_MEMORY = 3  # exit status
LIFETIME_CPU_SECONDS = 600  # the fixed hard RLIMIT_CPU above the CPU used at start


class UnparsableMedia(ValueError):
    """The bytes are not a decodable MPEG-TS segment with H.264 video."""


def slice_nal_units(access_unit: bytes) -> list[bytes]:
    """The slice NAL units of one Annex-B access unit, without start codes or zero padding."""
    starts = [m.end() for m in _START_CODE.finditer(access_unit)]
    units = []
    for index, start in enumerate(starts):
        end = starts[index + 1] - 3 if index + 1 < len(starts) else len(access_unit)
        unit = access_unit[start:end].rstrip(b"\x00")  # a 4-byte start code's zero belongs to neither
        if unit and unit[0] & 0x1F in SLICE_NAL_TYPES:
            units.append(unit)
    return units


def access_unit_fingerprint(access_unit: bytes) -> bytes | None:
    units = slice_nal_units(access_unit)
    if not units:
        return None
    digest = hashlib.blake2b(digest_size=FINGERPRINT_BYTES)
    for unit in units:
        digest.update(len(unit).to_bytes(4, "big"))
        digest.update(unit)
    return digest.digest()


def frame_fingerprints(segment: bytes) -> list[bytes]:
    """Fingerprints of the video frames of one MPEG-TS segment, in decode order (in this process:
    the site calls validation.fingerprints.frame_fingerprints, which runs it in a sandbox)."""
    try:
        with av.open(io.BytesIO(segment), mode="r", format="mpegts", options=PROBE) as container:
            if not container.streams.video:
                raise UnparsableMedia("no video stream")
            if container.streams.video[0].codec_context.name != "h264":
                raise UnparsableMedia("video is not H.264")
            prints = []
            for packet in container.demux(container.streams.video[0]):
                if packet.size == 0:
                    continue
                fingerprint = access_unit_fingerprint(bytes(packet))
                if fingerprint is not None:
                    prints.append(fingerprint)
    except av.FFmpegError as exc:
        raise UnparsableMedia(f"undecodable media: {exc}") from None
    if not prints:
        raise UnparsableMedia("no H.264 frames")
    return prints


def cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def set_limits(memory_mb: int) -> int:
    """Limits that hold for the process's life; returns the hard CPU limit (seconds)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    hard = math.ceil(cpu_used()) + LIFETIME_CPU_SECONDS
    resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
    return hard


def _read_exact(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    return data if len(data) == size else None


def answer(segment: bytes) -> tuple[bytes, bytes]:
    """(kind, payload) for one segment; a MemoryError is a limit, not the media's verdict."""
    try:
        return PRINTS, b"".join(frame_fingerprints(segment))
    except UnparsableMedia as exc:
        return MEDIA_ERROR, str(exc).encode("utf-8", "replace")[:2000]
    except MemoryError:
        return LIMIT_ERROR, b"out of memory"


def serve(stdin: BinaryIO, stdout: BinaryIO, cpu_seconds: float, hard: int) -> None:
    stdout.write(READY)
    stdout.flush()
    parses = 0
    while (header := _read_exact(stdin, REQUEST.size)) is not None:
        (size,) = REQUEST.unpack(header)
        if size > MAX_REQUEST_BYTES:
            raise SystemExit(f"request of {size} bytes refused")
        segment = _read_exact(stdin, size)
        if segment is None:
            return
        resource.setrlimit(resource.RLIMIT_CPU, (min(math.ceil(cpu_used() + cpu_seconds) + 1, hard), hard))
        signal.setitimer(signal.ITIMER_PROF, cpu_seconds)  # SIGPROF's default action ends the process
        kind, payload = answer(segment)
        signal.setitimer(signal.ITIMER_PROF, 0)
        del segment
        parses += 1
        retire = kind == LIMIT_ERROR or parses >= MAX_PARSES or math.ceil(cpu_used() + cpu_seconds) + 2 >= hard
        stdout.write(ANSWER.pack(kind, b"\x01" if retire else b"\x00", len(payload)) + payload)
        stdout.flush()
        if retire:
            return


def main(argv: list[str]) -> None:
    memory_mb, cpu_seconds = int(argv[0]), float(argv[1])
    # Ctrl-C in a terminal reaches the whole process group: the site closes this process itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    hard = set_limits(memory_mb)
    try:
        serve(sys.stdin.buffer, sys.stdout.buffer, cpu_seconds, hard)
    except MemoryError:  # a request too large to read within the limit: the stream is lost
        os._exit(OUT_OF_MEMORY)
    except BrokenPipeError:
        # The site went away mid-answer: nothing left to say (and nothing for exit's flush either).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    main(sys.argv[1:])
