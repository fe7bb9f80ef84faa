"""Fixtures of validation's tests."""

from __future__ import annotations

import pytest

from streams.tests.hook_clients import srs_payload


@pytest.fixture
def live_alice(make_stream, post_srs):
    """'alice', live now through the SRS hook (here instead of rewards' hour-shaped one)."""
    stream, key = make_stream("alice")
    assert post_srs(srs_payload("on_publish", key=key)).json() == {"code": 0}
    return stream
