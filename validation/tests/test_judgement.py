"""How a node's frames compare with the origin's: pass, stale or mismatch."""

from __future__ import annotations

import pytest

from validation.services import judge

LIVE = {bytes([n]) * 16 for n in range(100, 200)}
OLD = {bytes([n]) * 16 for n in range(0, 100)}


def frames(*ranges: range) -> list[bytes]:
    return [bytes([n]) * 16 for r in ranges for n in r]


def test_frames_in_the_live_window_pass():
    verdict = judge(frames(range(150, 180)), LIVE, OLD | LIVE)
    assert (verdict.outcome, verdict.overlap, verdict.live_matches) == ("pass", 1.0, 30)


def test_a_few_frames_outside_the_window_still_pass_at_90_percent():
    verdict = judge(frames(range(100, 190), range(240, 250)), LIVE, OLD)
    assert verdict.outcome == "pass" and verdict.overlap == pytest.approx(0.9)


def test_frames_only_in_older_windows_are_stale():
    verdict = judge(frames(range(10, 40)), LIVE, OLD)
    assert (verdict.outcome, verdict.stale_matches, verdict.overlap) == ("stale", 30, 0.0)


def test_frames_the_origin_never_had_are_a_mismatch():
    verdict = judge(frames(range(220, 250)), LIVE, OLD)
    assert (verdict.outcome, verdict.live_matches, verdict.stale_matches) == ("mismatch", 0, 0)


def test_no_frames_at_all_is_a_mismatch_not_a_pass():
    assert judge([], LIVE, OLD).outcome == "mismatch"
