"""Segments from nodes are parsed in parser processes without secrets and within CPU, memory and
time limits; a parser that breaks costs that segment only (bad media), never the next parse."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from testkit.media import require
from validation import media_sandbox, media_worker
from validation.fingerprints import MediaError, frame_fingerprints

pytestmark = pytest.mark.live

SECRETS = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "HOOK_SECRET")


def encode(directory: Path, name: str, *args: str) -> bytes:
    require(None if shutil.which("ffmpeg") else "ffmpeg is not installed (apt-get install ffmpeg)")
    out = directory / name
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi", *args]
    subprocess.run([*command, "-c:v", "libx264", "-preset", "ultrafast", "-f", "mpegts", str(out)], check=True)
    return out.read_bytes()


@pytest.fixture(scope="module")
def segment(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Two seconds of 30 fps 640x360 H.264, as an HLS segment."""
    return encode(tmp_path_factory.mktemp("media"), "segment.ts", "-i", "testsrc2=size=640x360:rate=30", "-t", "2")


@pytest.fixture(scope="module")
def frame_flood(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """About 29 MB (under the checker's 32 MiB cap) of one-TS-packet frames: 150,000 frames, whose
    fingerprinting takes seconds of CPU where an honest segment takes milliseconds."""
    tiny = encode(tmp_path_factory.mktemp("media"), "flood.ts", "-i", "color=black:size=16x16:rate=1000", "-t", "5")
    return tiny * 30


@pytest.fixture(autouse=True)
def fresh_pool():
    media_sandbox.close()
    yield
    media_sandbox.close()


def parsers() -> list[int]:
    """This process's parser processes, read from /proc (zombies included: they must not exist)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and (b"media_worker" in cmdline or fields[0] == "Z"):
            found.append(int(stat.parent.name))
    return found


def gone(pid: int) -> bool:
    """No process ``pid`` (reaped, not a zombie)."""
    return not Path(f"/proc/{pid}").exists()


def test_a_segment_parsed_in_the_sandbox_has_the_fingerprints_of_an_in_process_parse(segment):
    in_process = media_worker.frame_fingerprints(segment)

    assert len(in_process) == 60
    assert frame_fingerprints(segment) == in_process
    assert len(parsers()) == 1


def test_bytes_that_are_not_media_give_the_same_media_error_as_before(segment, tmp_path):
    sound_only = encode(tmp_path, "sound.ts", "-i", "sine=frequency=440", "-t", "1")
    for junk in (b"not a segment" * 100, sound_only):
        with pytest.raises(media_worker.UnparsableMedia) as before:
            media_worker.frame_fingerprints(junk)
        with pytest.raises(MediaError) as now:
            frame_fingerprints(junk)
        assert str(now.value) == str(before.value)
    assert frame_fingerprints(segment)  # a refused segment does not cost the parser


def test_the_parser_process_holds_no_secrets_no_descriptors_and_its_limits(segment, settings, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "sandbox-test-secret")
    monkeypatch.setenv("HOOK_SECRET", "sandbox-test-hook")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db/x")
    frame_fingerprints(segment)
    (pid,) = media_sandbox.pids()

    environ = Path(f"/proc/{pid}/environ").read_bytes()
    names = {entry.split(b"=", 1)[0].decode() for entry in environ.split(b"\0") if entry}
    # glibc splits GLIBC_TUNABLES in place at start: its second tunable shows as an entry of its own.
    names = {name for name in names if not name.startswith("glibc.")}
    assert names <= {*media_sandbox.ENVIRONMENT, "GLIBC_TUNABLES"}
    assert not names & set(SECRETS)
    assert b"sandbox-test" not in environ and b"postgres://" not in environ
    assert sorted(int(fd.name) for fd in Path(f"/proc/{pid}/fd").iterdir()) == [0, 1, 2]
    limits = Path(f"/proc/{pid}/limits").read_text()
    memory = settings.MEDIA_PARSER_MEMORY_MB * 1024 * 1024
    assert f"Max address space         {memory:<20} {memory:<20}" in limits
    assert "Max core file size        0" in limits


def test_the_parser_module_imports_neither_django_nor_a_project_app():
    probe = "import sys, validation.media_worker; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run(
        [sys.executable, "-E", "-c", probe], cwd=media_sandbox.ROOT, env={}, capture_output=True, text=True, check=True
    ).stdout
    for name in ("django", "rest_framework", "core", "streams", "accounts", "nodes", "rewards", "web"):
        assert f"'{name}'" not in loaded
    assert "'av'" in loaded and "'validation'" in loaded


def test_a_segment_that_eats_cpu_ends_its_parser_and_the_next_parse_gets_a_fresh_one(segment, frame_flood, settings):
    assert len(frame_fingerprints(frame_flood)) == 150_000  # within the default limits: not bad media
    settings.MEDIA_PARSER_CPU_SECONDS = 0.25
    frame_fingerprints(segment)
    (first,) = media_sandbox.pids()

    started = time.monotonic()
    with pytest.raises(MediaError, match=r"exceeded its limits: more than 0.25 s of CPU"):
        frame_fingerprints(frame_flood)
    assert time.monotonic() - started < 5
    assert gone(first)

    assert len(frame_fingerprints(segment)) == 60
    assert media_sandbox.pids() != [first]


def test_a_segment_beyond_the_memory_limit_ends_its_parser_and_the_next_parse_works(segment, settings):
    settings.MEDIA_PARSER_MEMORY_MB = 160  # room for Python and PyAV (~125 MiB), not for 60 MB more
    frame_fingerprints(segment)
    (first,) = media_sandbox.pids()

    with pytest.raises(MediaError, match="exceeded its limits: more than 160 MiB of memory"):
        frame_fingerprints(segment * (60_000_000 // len(segment)))  # read whole before parsing
    assert gone(first)

    assert len(frame_fingerprints(segment)) == 60


def test_a_parser_that_stops_answering_is_killed_at_the_wall_clock_deadline(segment, settings):
    settings.MEDIA_PARSER_CPU_SECONDS = 1  # wall-clock deadline 2 x 1 + 5 = 7 s
    frame_fingerprints(segment)
    (first,) = media_sandbox.pids()
    os.kill(first, signal.SIGSTOP)  # hung: uses no CPU, so only the wall clock can end it

    started = time.monotonic()
    with pytest.raises(MediaError, match="exceeded its limits: no answer within 7 s"):
        frame_fingerprints(segment)
    assert 7 <= time.monotonic() - started < 12
    assert gone(first)

    assert len(frame_fingerprints(segment)) == 60


def test_a_parser_killed_between_parses_is_replaced_and_reaped(segment):
    frame_fingerprints(segment)
    (first,) = media_sandbox.pids()
    os.kill(first, signal.SIGKILL)
    time.sleep(0.2)

    assert len(frame_fingerprints(segment)) == 60
    assert gone(first)
    assert first not in media_sandbox.pids()
    assert len(parsers()) == 1


def test_threads_share_at_most_the_configured_parsers_and_close_leaves_no_process(segment, settings):
    settings.MEDIA_PARSER_PROCESSES = 2
    expected = media_worker.frame_fingerprints(segment)
    results: list[list[bytes]] = []
    most = 0

    def parse_three() -> None:
        for _ in range(3):
            results.append(frame_fingerprints(segment))

    threads = [threading.Thread(target=parse_three) for _ in range(6)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        most = max(most, len(parsers()))
        time.sleep(0.01)

    assert results == [expected] * 18
    assert 1 <= most <= 2
    started = media_sandbox.pids()
    media_sandbox.close()
    assert parsers() == []
    assert all(gone(pid) for pid in started)


def test_a_parser_that_cannot_start_is_the_sites_trouble_not_bad_media(segment, monkeypatch, tmp_path):
    monkeypatch.setattr(media_sandbox, "ROOT", tmp_path)  # `-m validation.media_worker` not found there

    with pytest.raises(media_sandbox.ParserUnavailable, match="did not start"):
        frame_fingerprints(segment)
    assert parsers() == []

    monkeypatch.undo()
    assert len(frame_fingerprints(segment)) == 60
