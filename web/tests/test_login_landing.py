"""After logging in, each person lands on their own page: admins on the overview, streamers on
their streams, friends on their nodes; a ``next`` from the login page still wins."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def log_in(client, username: str, password: str, next_url: str = "") -> str:  # type: ignore[no-untyped-def]
    url = "/accounts/login/" + (f"?next={next_url}" if next_url else "")
    response = client.post(url, {"username": username, "password": password}, follow=True)
    assert response.status_code == 200
    return response.redirect_chain[-1][0]


def test_a_friend_lands_on_my_nodes(client, friend):
    assert log_in(client, "friend", "friend-pass-123") == "/me"


def test_a_streamer_lands_on_my_streams(client, friend, make_stream):
    make_stream("alice", owner=friend)
    assert log_in(client, "friend", "friend-pass-123") == "/me/streams"


def test_an_admin_lands_on_the_admin_overview(client, admin_user):
    assert log_in(client, "root", "root-pass-123") == "/admin/overview/"


def test_a_next_page_from_the_login_form_still_wins(client, admin_user):
    assert log_in(client, "root", "root-pass-123", next_url="/me/payouts") == "/me/payouts"


def test_the_landing_page_needs_a_login(client):
    response = client.get("/accounts/landing")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
