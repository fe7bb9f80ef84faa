"""/me/notifications: each person turns each kind of email on or off (every email links here)."""

from __future__ import annotations

import pytest

from accounts import notifications
from accounts.models import NotificationSettings

pytestmark = pytest.mark.django_db


def checkboxes(html: str) -> dict[str, bool]:
    found = {}
    for kind in notifications.KINDS:
        tag = f'name="{kind}"'
        if tag in html:
            at = html.index(tag)
            found[kind] = "checked" in html[at : html.index(">", at)]
    return found


def test_every_kind_is_on_until_the_person_turns_it_off(client, friend):
    client.force_login(friend)
    page = client.get("/me/notifications")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/me/notifications"' in html  # linked in the nav
    assert checkboxes(html) == {"node_offline": True, "node_penalties": True, "payouts": True}  # not an admin
    assert "offline for over 10 minutes (once per outage)" in html  # NODE_OFFLINE_NOTIFY_MINUTES
    assert not NotificationSettings.objects.exists()  # nothing stored until a choice is made


def test_a_person_turns_kinds_off_and_on_again(client, friend):
    client.force_login(friend)
    response = client.post("/me/notifications", {"node_offline": "on"})
    assert response.status_code == 302 and response["Location"] == "/me/notifications"
    row = NotificationSettings.objects.get(user=friend)
    assert (row.node_offline, row.node_penalties, row.payouts) == (True, False, False)
    assert notifications.wanting([friend.pk], "payouts") == set()
    assert checkboxes(client.get("/me/notifications").content.decode())["payouts"] is False
    client.post("/me/notifications", {"node_offline": "on", "payouts": "on", "node_penalties": "on"})
    assert notifications.wanting([friend.pk], "payouts") == {friend.pk}


def test_admins_also_choose_whether_they_hear_of_waiting_payouts(client, admin_user):
    client.force_login(admin_user)
    assert checkboxes(client.get("/me/notifications").content.decode())["payouts_waiting"] is True
    client.post("/me/notifications", {"payouts": "on"})
    assert NotificationSettings.objects.get(user=admin_user).payouts_waiting is False


def test_a_person_who_is_not_signed_in_is_sent_to_log_in(client):
    response = client.get("/me/notifications")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_link_in_every_email_footer_leads_here(settings):
    settings.SITE_URL = "https://streamr.example.org/"
    assert notifications.settings_url() == "https://streamr.example.org/me/notifications"


def test_admins_see_who_turned_which_emails_off(client, friend, admin_user):
    notifications.update_settings(friend, {notifications.PAYOUTS: False})
    client.force_login(admin_user)
    listing = client.get("/admin/accounts/notificationsettings/?payouts__exact=0")
    assert listing.status_code == 200 and "friend" in listing.content.decode()
    row = NotificationSettings.objects.get(user=friend)
    assert client.get(f"/admin/accounts/notificationsettings/{row.pk}/change/").status_code == 200
