"""What the coordinator sends can't make the agent touch other directories or inputs; one agent
per data directory."""

from __future__ import annotations

import asyncio

import pytest
from streamr_node.agent import AgentError, lock_data_dir
from streamr_node.relay import Relay, valid_assignment


@pytest.mark.parametrize(
    "slug, url",
    [
        ("../../victim", "rtmp://origin/live/x"),
        ("alice", "file:///etc/passwd"),
        ("alice", "http://origin/live/alice"),
        ("alice/../..", "rtmp://origin/live/alice"),
        ("alice", "rtmp:///live/alice"),
    ],
)
def test_refuses_assignments_that_are_not_a_slug_and_an_rtmp_url(slug, url):
    assert not valid_assignment(slug, url)


def test_accepts_a_normal_assignment():
    assert valid_assignment("alice-live_2", "rtmp://origin.example:1935/live/alice-live_2")


def test_an_invalid_assignment_leaves_other_directories_alone(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    relay = Relay(tmp_path / "data" / "hls", ffmpeg_exe="/bin/false")

    async def main() -> None:
        await relay.follow("../../victim", "rtmp://origin/live/x")
        await relay.stop()

    asyncio.run(main())
    assert victim.exists() and relay.slug is None


def test_a_second_agent_on_the_same_data_directory_is_refused(tmp_path):
    first = lock_data_dir(tmp_path)
    try:
        with pytest.raises(AgentError, match="another streamr-node"):
            lock_data_dir(tmp_path)
    finally:
        first.close()
    lock_data_dir(tmp_path).close()  # free again once the first one is gone


def test_a_segment_deleted_while_the_age_is_measured_is_not_a_stall(tmp_path, monkeypatch):
    """ffmpeg deletes old segments at any moment; one vanishing mid-listing must not look like a stall."""
    import pathlib

    relay = Relay(tmp_path, ffmpeg_exe="/bin/false")
    relay.slug = "alice"
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "seg_2.ts").write_bytes(b"x")
    vanished = tmp_path / "alice" / "seg_1.ts"
    real_glob = pathlib.Path.glob
    monkeypatch.setattr(pathlib.Path, "glob", lambda self, pattern: [vanished, *real_glob(self, pattern)])
    age = relay.newest_segment_age()
    assert age is not None and age < 5
