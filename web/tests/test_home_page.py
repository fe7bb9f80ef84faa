"""The home page lists streams and whether each is live."""

from __future__ import annotations

import pytest

from streams.tests.hook_clients import srs_payload

pytestmark = pytest.mark.django_db


def test_shows_live_and_offline_streams(client, make_stream, post_srs):
    _, key = make_stream("alice", title="Alice live")
    make_stream("bob", title="Bob later")
    post_srs(srs_payload("on_publish", key=key))
    page = client.get("/").content.decode()
    assert "Alice live" in page and "LIVE" in page
    assert "Bob later" in page and "offline" in page


def test_explains_how_to_create_the_first_stream(client):
    assert "createstream" in client.get("/").content.decode()
