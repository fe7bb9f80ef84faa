"""Play/stop hooks (SRS and nginx-rtmp) keep a count of the origin's open pulls (relays' pulls as
much as people's: diagnostics). The viewers the site shows are watch pages' reports, never these."""

from __future__ import annotations

import pytest

from streams.models import StreamViewer
from streams.tests.hook_clients import nginx_form, srs_payload

pytestmark = pytest.mark.django_db


def pulls() -> int:
    """Open pulls of the live session at the origin."""
    return StreamViewer.objects.filter(ended_at__isnull=True, session__ended_at__isnull=True).count()


@pytest.fixture
def live(post_srs, stream_and_key):
    _, key = stream_and_key
    assert post_srs(srs_payload("on_publish", key=key, client_id="pub")).status_code == 200


def test_the_viewers_the_site_shows_are_not_the_origins_pulls(post_srs, live, client):
    post_srs(srs_payload("on_play", client_id="relay-1"))
    post_srs(srs_payload("on_play", stream="alice.m3u8", client_id="relay-2"))
    assert pulls() == 2
    assert {s["slug"]: s for s in client.get("/api/v1/streams").json()}["alice"]["viewers"] == 0


def test_counts_rtmp_and_hls_players_and_forgets_them_on_stop(post_srs, live, client):
    post_srs(srs_payload("on_play", client_id="rtmp-1"))
    post_srs(srs_payload("on_play", stream="alice.m3u8", client_id="hls-1"))
    assert pulls() == 2
    post_srs(srs_payload("on_stop", client_id="rtmp-1"))
    assert pulls() == 1


def test_a_duplicate_play_hook_counts_once(post_srs, live, client):
    post_srs(srs_payload("on_play", client_id="v1"))
    post_srs(srs_payload("on_play", client_id="v1"))
    assert pulls() == 1


def test_a_stop_for_an_unknown_player_changes_nothing(post_srs, live, client):
    post_srs(srs_payload("on_play", client_id="v1"))
    assert post_srs(srs_payload("on_stop", client_id="never-played")).status_code == 200
    assert post_srs(srs_payload("on_stop", stream="no-such-stream", client_id="v1")).status_code == 200
    assert pulls() == 1


def test_a_repeated_stop_never_goes_below_zero(post_srs, live, client):
    post_srs(srs_payload("on_play", client_id="v1"))
    post_srs(srs_payload("on_stop", client_id="v1"))
    post_srs(srs_payload("on_stop", client_id="v1"))
    assert pulls() == 0


def test_a_player_can_come_back_with_the_same_client_id(post_srs, live, client):
    post_srs(srs_payload("on_play", client_id="v1"))
    post_srs(srs_payload("on_stop", client_id="v1"))
    post_srs(srs_payload("on_play", client_id="v1"))
    assert pulls() == 1


def test_refuses_play_of_an_unknown_stream(post_srs, stream_and_key):
    response = post_srs(srs_payload("on_play", stream="nobody.m3u8"))
    assert response.status_code == 404


def test_unpublish_ends_every_viewer_of_the_stream(post_srs, live, client):
    post_srs(srs_payload("on_play", client_id="v1"))
    post_srs(srs_payload("on_play", client_id="v2"))
    post_srs(srs_payload("on_unpublish", client_id="pub"))
    assert pulls() == 0


def test_a_player_waiting_for_an_offline_stream_is_allowed_but_not_carried_into_the_next_session(
    post_srs, stream_and_key, client
):
    _, key = stream_and_key
    assert post_srs(srs_payload("on_play", client_id="early")).status_code == 200
    assert pulls() == 0
    post_srs(srs_payload("on_publish", key=key, client_id="pub"))
    assert pulls() == 0


def test_a_play_arriving_after_unpublish_is_not_counted_later(post_srs, live, stream_and_key, client):
    _, key = stream_and_key
    post_srs(srs_payload("on_unpublish", client_id="pub"))
    post_srs(srs_payload("on_play", client_id="late"))
    post_srs(srs_payload("on_publish", key=key, client_id="pub2"))
    assert pulls() == 0


def test_nginx_play_and_play_done_update_the_count(post_nginx, post_srs, live, client):
    assert post_nginx("play", nginx_form(clientid="30")).status_code == 200
    assert pulls() == 1
    assert post_nginx("play_done", nginx_form(clientid="30")).status_code == 200
    assert pulls() == 0
