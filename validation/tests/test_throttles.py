"""GET /api/v1/streams/<slug>/playback is throttled per client address: 429, Retry-After, JSON."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_playback_is_throttled_per_address(client, make_stream, settings):
    make_stream("alice")
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "playback": (3, 60)}
    url = "/api/v1/streams/alice/playback"
    assert [client.get(url, REMOTE_ADDR="198.51.100.1").status_code for _ in range(3)] == [200] * 3
    refused = client.get(url, REMOTE_ADDR="198.51.100.1")
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["error"]["code"] == "throttled"
    assert client.get(url, REMOTE_ADDR="198.51.100.2").status_code == 200  # the next viewer's address
