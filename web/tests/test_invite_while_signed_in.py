"""An invite link opened while signed in asks first (issue 17: it used to switch accounts silently):
"sign out and continue" or "keep" the current account; nothing is accepted before that choice."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts import services
from accounts.models import Invite

pytestmark = pytest.mark.django_db
NEW_ACCOUNT = {"username": "newfriend", "password1": "a-long-pass-phrase-42", "password2": "a-long-pass-phrase-42"}


@pytest.fixture
def invite_path(settings) -> str:
    settings.SITE_URL = "http://testserver"
    _, link = services.create_invite("new@example.com")
    return link.removeprefix("http://testserver")


def signed_in_as(client) -> str | None:
    response = client.get("/me")
    return response.context["user"].get_username() if response.status_code == 200 else None


def test_opening_the_link_while_signed_in_asks_before_switching(client, friend, invite_path):
    client.force_login(friend)
    page = client.get(invite_path)
    assert page.status_code == 200
    text = page.content.decode()
    assert "You are signed in as friend" in text and "new@example.com" in text
    assert "Sign out and continue" in text and "Keep friend" in text
    choices = text.split('name="choice"')  # both choices are POST forms with a CSRF token
    assert len(choices) == 3 and all('name="csrfmiddlewaretoken"' in before for before in choices[:2])
    assert signed_in_as(client) == "friend"


def test_a_signup_posted_while_signed_in_is_not_accepted(client, friend, invite_path):
    client.force_login(friend)
    response = client.post(invite_path, NEW_ACCOUNT)  # e.g. from a sign-up form in another tab
    assert response.status_code == 200 and "You are signed in as friend" in response.content.decode()
    assert not User.objects.filter(username="newfriend").exists()
    assert Invite.objects.get().used_at is None
    assert signed_in_as(client) == "friend"


def test_keeping_the_account_leaves_the_link_unused(client, friend, invite_path):
    client.force_login(friend)
    response = client.post(invite_path, {"choice": "keep"})
    assert response.status_code == 302 and response["Location"] == "/me"
    assert signed_in_as(client) == "friend" and Invite.objects.get().used_at is None


def test_signing_out_and_continuing_leads_to_the_signup_form(client, friend, invite_path):
    client.force_login(friend)
    response = client.post(invite_path, {"choice": "switch"})
    assert response.status_code == 302 and response["Location"] == invite_path
    assert signed_in_as(client) is None
    form = client.get(invite_path).content.decode()
    assert "Choose a username and a password" in form
    assert client.post(invite_path, NEW_ACCOUNT)["Location"] == "/me"
    assert signed_in_as(client) == "newfriend"
    assert Invite.objects.get().used_by == User.objects.get(username="newfriend")


def test_the_choice_needs_the_csrf_token(friend, invite_path):
    client = Client(enforce_csrf_checks=True)
    client.force_login(friend)
    assert client.post(invite_path, {"choice": "switch"}).status_code == 403
    assert signed_in_as(client) == "friend"
