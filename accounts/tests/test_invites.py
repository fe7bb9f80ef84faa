"""Invite-only sign-up: a one-time link from the command line or the admin makes one account."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts import services
from accounts.models import Invite

pytestmark = pytest.mark.django_db
LINK = re.compile(r"http://testserver(/accounts/invite/\S+)")


@pytest.fixture
def invite_path(settings):
    settings.SITE_URL = "http://testserver"

    def make(email: str = "new@example.com") -> str:
        out = io.StringIO()
        call_command("invite", email, stdout=out)
        found = LINK.search(out.getvalue())
        assert found, out.getvalue()
        return found.group(1)

    return make


def sign_up(client, path, username="newfriend", password="a-long-pass-phrase-42", again=None):  # noqa: S107
    return client.post(path, {"username": username, "password1": password, "password2": again or password})


def test_the_command_prints_a_link_that_makes_one_account_and_logs_in(client, invite_path):
    path = invite_path()
    assert "new@example.com" in client.get(path).content.decode()
    response = sign_up(client, path)
    assert response.status_code == 302 and response["Location"] == "/me"
    user = User.objects.get(username="newfriend")
    assert user.email == "new@example.com" and Invite.objects.get().used_by == user
    assert client.get("/me").status_code == 200  # signed in


def test_a_link_works_once(client, invite_path):
    path = invite_path()
    sign_up(client, path)
    client.logout()
    second = client.get(path)
    assert second.status_code == 410 and "already used" in second.content.decode()
    assert sign_up(client, path, username="someone-else").status_code == 410
    assert User.objects.count() == 1


def test_an_expired_or_unknown_link_is_refused(client, invite_path):
    path = invite_path()
    Invite.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(path).status_code == 410
    assert client.get("/accounts/invite/inv_not-a-real-token").status_code == 404


def test_a_weak_password_or_a_taken_username_keeps_the_link_usable(client, invite_path, friend):
    path = invite_path()
    weak = sign_up(client, path, password="123")
    assert weak.status_code == 200 and "too short" in weak.content.decode()
    taken = sign_up(client, path, username="friend")
    assert taken.status_code == 200 and "taken" in taken.content.decode()
    differ = sign_up(client, path, again="another-long-pass-42")
    assert "differ" in differ.content.decode()
    assert Invite.objects.get().used_at is None
    assert sign_up(client, path).status_code == 302


def test_the_command_refuses_a_bad_email():
    with pytest.raises(CommandError, match="not an email"):
        call_command("invite", "nobody", stdout=io.StringIO())


def test_an_admin_makes_an_invite_and_sees_its_link_once(client, admin_user, settings):
    settings.SITE_URL = "http://testserver"
    client.force_login(admin_user)
    page = client.post("/admin/accounts/invite/add/", {"email": "pal@example.com"}, follow=True).content.decode()
    assert "One-time sign-up link for pal@example.com" in page
    path = LINK.search(page)
    assert path is not None and Invite.objects.get().created_by == admin_user
    renewed = client.post(
        "/admin/accounts/invite/", {"action": "new_link", "_selected_action": [Invite.objects.get().pk]}, follow=True
    )
    assert "Link for pal@example.com" in renewed.content.decode() and Invite.objects.count() == 2


def test_only_the_digest_of_the_token_is_stored():
    invite, link = services.create_invite("x@example.com")
    token = link.rsplit("/", 1)[1]
    assert token not in invite.token_hash and len(invite.token_hash) == 64


def test_logout_and_password_change_work(client, friend):
    client.force_login(friend)
    changed = client.post(
        "/accounts/password_change/",
        {
            "old_password": "friend-pass-123",
            "new_password1": "a-new-long-pass-99",
            "new_password2": "a-new-long-pass-99",
        },
    )
    assert changed.status_code == 302
    friend.refresh_from_db()
    assert friend.check_password("a-new-long-pass-99")
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/me").status_code == 302  # back to the login page
