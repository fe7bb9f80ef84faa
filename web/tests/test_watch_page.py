"""The public watch page: a player wired to the playback API, with hls.js from our own static files."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_the_watch_page_loads_the_vendored_player_and_asks_the_playback_api(client, stream_and_key):
    page = client.get("/watch/alice").content.decode()
    assert "Alice live" in page and 'data-playback="/api/v1/streams/alice/playback"' in page
    assert "/static/vendor/hls.js/hls.min.js" in page and "//cdn" not in page
    assert Path(finders.find("vendor/hls.js/hls.min.js")).stat().st_size > 100_000  # the real library


def test_an_unknown_stream_has_no_watch_page(client):
    assert client.get("/watch/nobody").status_code == 404


def test_no_page_loads_anything_from_another_site(client, friend, stream_and_key):
    client.force_login(friend)
    for url in ["/", "/me", "/me/earnings", "/me/payouts", "/leaderboard", "/me/streams", "/watch/alice"]:
        body = client.get(url).content.decode()
        assert 'src="http' not in body and 'href="http' not in body, url  # the machine may be offline
