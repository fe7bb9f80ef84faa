"""Viewers' reports are votes on what a relay sent them: the checker's bytes lose when more
viewers agree on other bytes, whatever the relay's own tickets say."""

from __future__ import annotations

import hashlib

import pytest

from validation import checks

SENT_TO_CHECKER = b"the live stream, as the checker got it"
OURS = hashlib.sha256(SENT_TO_CHECKER).hexdigest()
OTHER = hashlib.sha256(b"what viewers got").hexdigest()


def compare(reported: dict[str, int]) -> checks.Inspection:
    found = checks.Inspection()
    checks._compare_with_viewers("http://n/hls/alice/seg7.ts", OURS, reported, found)
    return found


def test_two_viewers_who_got_other_bytes_make_it_cloaked():
    with pytest.raises(checks.Verdict) as verdict:
        compare({OTHER: 2})
    assert verdict.value.outcome == "cloaked"


def test_the_relays_own_ticket_agreeing_with_the_checker_does_not_clear_it():
    with pytest.raises(checks.Verdict):
        compare({OURS: 1, OTHER: 3})


def test_one_disagreeing_viewer_is_evidence_not_a_verdict():
    found = compare({OURS: 4, OTHER: 1})
    assert "lone_disagreement" in found.evidence


def test_viewers_who_agree_with_the_checker_clear_the_segment():
    found = compare({OURS: 3})
    assert found.evidence["audited"] == ["http://n/hls/alice/seg7.ts"] and "lone_disagreement" not in found.evidence


def test_as_many_viewers_on_each_side_is_no_verdict():
    assert "lone_disagreement" in compare({OURS: 2, OTHER: 2}).evidence
