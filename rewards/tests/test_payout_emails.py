"""Payout emails: the friend hears of every state change of their payout; admins who may approve
payouts hear that payouts wait, at most once per PAYOUTS_WAITING_NOTIFY_MINUTES each."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db.models import F
from django_q.models import Schedule

from accounts import notifications
from accounts.models import NotificationSettings
from rewards import notifications as payout_notifications
from rewards import services

pytestmark = pytest.mark.django_db


def to(person) -> list[str]:
    return [e.subject for e in mail.outbox if e.to == [person.email]]


def test_the_friend_is_told_of_each_state_of_their_payout(paypal_friend, admin_user, mail_now):
    with mail_now():
        paid = services.request_payout(paypal_friend, "10.00")
        services.approve(paid, actor=admin_user)
        services.mark_paid(paid, actor=admin_user, reference="5TY05013RG002845M")
        refused = services.request_payout(paypal_friend, "20.00")
        services.reject(refused, actor=admin_user, reason="address bounced")
    assert to(paypal_friend) == [
        f"[StreamrP2P] Payout {paid.pk} was requested",
        f"[StreamrP2P] Payout {paid.pk} was approved",
        f"[StreamrP2P] Payout {paid.pk} was paid",
        f"[StreamrP2P] Payout {refused.pk} was requested",
        f"[StreamrP2P] Payout {refused.pk} was rejected",
    ]
    bodies = [e.body for e in mail.outbox if e.to == [paypal_friend.email]]
    assert "10.00 USD via paypal was paid" in bodies[2] and "5TY05013RG002845M" in bodies[2]
    assert "Reason: address bounced" in bodies[4] and "/me/payouts" in bodies[4]


def test_a_change_that_rolls_back_mails_nothing(paypal_friend, admin_user, mail_now):
    with mail_now(), pytest.raises(services.PayoutError):
        services.request_payout(paypal_friend, "500.00")  # more than the balance: refused, rolled back
    assert mail.outbox == []


def test_a_friend_who_turned_payout_emails_off_gets_none(paypal_friend, admin_user, mail_now):
    notifications.update_settings(paypal_friend, {notifications.PAYOUTS: False})
    with mail_now():
        services.approve(services.request_payout(paypal_friend, "10.00"), actor=admin_user)
    assert to(paypal_friend) == []


def test_admins_hear_of_waiting_payouts_in_batches(paypal_friend, admin_user, second_admin, viewer_staff, mail_now):
    with mail_now():  # each request commits on its own, as from the page
        first = services.request_payout(paypal_friend, "10.00")
    for amount in ("15.00", "20.00"):
        with mail_now():
            services.request_payout(paypal_friend, amount)  # within the window: no second email
    for admin in (admin_user, second_admin):
        assert to(admin) == ["[StreamrP2P] 1 payout(s) wait for approval"]
    assert f"payout {first.pk}: 10.00 USD to friend via paypal" in mail.outbox[1].body
    assert "/admin/rewards/payoutrequest/?status__exact=requested" in mail.outbox[1].body
    assert to(viewer_staff) == []  # staff who may only look at payouts
    # The later requests are told when the window reopens, by a one-off job (one for everybody).
    digest = Schedule.objects.get(name=payout_notifications.DIGEST)
    assert digest.func == "rewards.notifications.tell_admins_payouts_wait"
    assert digest.schedule_type == Schedule.ONCE
    sent = NotificationSettings.objects.get(user=admin_user).payouts_waiting_sent_at
    assert digest.next_run == sent + timedelta(minutes=30)
    NotificationSettings.objects.update(payouts_waiting_sent_at=F("payouts_waiting_sent_at") - timedelta(minutes=31))
    mail.outbox.clear()
    with mail_now():
        assert payout_notifications.tell_admins_payouts_wait() == 2
        assert payout_notifications.tell_admins_payouts_wait() == 0  # told: the window is closed again
    for admin in (admin_user, second_admin):
        assert to(admin) == ["[StreamrP2P] 3 payout(s) wait for approval"]
    assert "45.00 USD in all" in mail.outbox[0].body


def test_an_admin_who_turned_these_off_is_not_told(paypal_friend, admin_user, second_admin, mail_now):
    notifications.update_settings(second_admin, {notifications.PAYOUTS_WAITING: False})
    with mail_now():
        services.request_payout(paypal_friend, "10.00")
    assert to(admin_user) == ["[StreamrP2P] 1 payout(s) wait for approval"] and to(second_admin) == []
