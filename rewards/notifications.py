"""Payout emails: the friend hears of each state change of their payout (requested, approved,
rejected, paid); admins who may approve payouts hear that payouts wait, batched.

``payout_changed`` is called by ``rewards.services.payouts`` inside its transaction; every email
goes out after it commits (``accounts.notifications``). Admins' emails are batched: one per admin
per PAYOUTS_WAITING_NOTIFY_MINUTES at most, each listing every payout then waiting. A request that
arrives while an admin's window is closed is told by a one-off django-q2 job when it reopens, so
no waiting payout goes untold, and a burst of requests is one email.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.db import transaction
from django.db.models import Min, Q, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from accounts import notifications
from accounts.models import NotificationSettings
from rewards.models import PayoutRequest, PayoutStatus
from rewards.split import sum_to_cents

log = logging.getLogger(__name__)

DIGEST = "rewards: payouts waiting (one-off)"
DIGEST_FUNC = "rewards.notifications.tell_admins_payouts_wait"
LISTED = 20  # payouts listed in an admin's email (the rest are counted)

WHAT_HAPPENED = {
    PayoutStatus.REQUESTED: ("was requested", "An admin reviews it; you get an email when it is decided."),
    PayoutStatus.APPROVED: ("was approved", "The money goes out with the next payment run."),
    PayoutStatus.REJECTED: ("was rejected", "The amount is back in your available balance."),
    PayoutStatus.PAID: ("was paid", "Check your account with the payment service."),
}


def payout_changed(payout: PayoutRequest) -> None:
    """Email the friend about their payout's new state; a new request also alerts the admins
    (batched). Inside the payouts service's transaction: both happen only once it commits."""
    happened, next_step = WHAT_HAPPENED[PayoutStatus(payout.status)]
    lines = [f"Your payout {payout.pk} of {payout.amount} {settings.CURRENCY} via {payout.method} {happened}."]
    if payout.status == PayoutStatus.REJECTED and payout.reason:
        lines.append(f"Reason: {payout.reason}")
    if payout.status == PayoutStatus.PAID and payout.external_reference:
        lines.append(f"Payment reference: {payout.external_reference}")
    lines += [next_step, settings.SITE_URL.rstrip("/") + reverse("my-payouts")]
    user = User.objects.get(pk=payout.user_id)
    notifications.notify(user, notifications.PAYOUTS, f"Payout {payout.pk} {happened}", "\n".join(lines))
    if payout.status == PayoutStatus.REQUESTED:
        transaction.on_commit(_tell_admins_safely, robust=True)


def payout_admins() -> QuerySet[User]:
    """Active staff who may approve payouts (superusers, or the permission directly or by group)."""
    perm = Permission.objects.filter(codename="change_payoutrequest", content_type__app_label="rewards").first()
    may = Q(is_superuser=True)
    if perm is not None:
        may |= Q(user_permissions=perm) | Q(groups__permissions=perm)
    return User.objects.filter(may, is_active=True, is_staff=True).distinct()


def _tell_admins_safely() -> None:
    try:
        tell_admins_payouts_wait()
    except Exception:  # after the friend's request committed: never their error
        log.exception("could not tell the admins that payouts wait")


def tell_admins_payouts_wait(now: datetime | None = None) -> int:
    """Email each payout admin whose window is open the list of payouts waiting for approval; for
    those whose window is closed, make sure a one-off job comes back when the first reopens.
    Returns how many admins were emailed."""
    now = now or timezone.now()
    waiting = PayoutRequest.objects.filter(status=PayoutStatus.REQUESTED)
    total = sum_to_cents(waiting.aggregate(total=Sum("amount"))["total"])  # SQLite's sum drops the cents
    count = waiting.count()
    if not count:
        return 0
    every = timedelta(minutes=settings.PAYOUTS_WAITING_NOTIFY_MINUTES)
    admins = {admin.pk: admin for admin in payout_admins()}
    claimed = notifications.claim_batch(admins, notifications.PAYOUTS_WAITING, every)
    body = _waiting_body(waiting, count, total)
    for admin_id in claimed:
        notifications.notify(
            admins[admin_id], notifications.PAYOUTS_WAITING, f"{count} payout(s) wait for approval", body
        )
    # Admins told within the window (not claimed now) hear of newer requests when it reopens.
    newest = waiting.order_by("-requested_at").values_list("requested_at", flat=True).first()
    behind = NotificationSettings.objects.filter(
        user_id__in=set(admins) - set(claimed), payouts_waiting=True, payouts_waiting_sent_at__lt=newest
    ).aggregate(first=Min("payouts_waiting_sent_at"))["first"]
    if behind is not None:
        _come_back_at(behind + every)
    return len(claimed)


def _waiting_body(waiting: QuerySet[PayoutRequest], count: int, total: object) -> str:
    lines = [f"{count} payout request(s), {total} {settings.CURRENCY} in all, wait for an admin's approval:", ""]
    for payout in waiting.select_related("user").order_by("requested_at")[:LISTED]:
        lines.append(f"- payout {payout.pk}: {payout.amount} {settings.CURRENCY} to {payout.user} via {payout.method}")
    if count > LISTED:
        lines.append(f"- … and {count - LISTED} more")
    admin_url = reverse("admin:rewards_payoutrequest_changelist") + "?status__exact=requested"
    lines += ["", f"Review them: {settings.SITE_URL.rstrip('/')}{admin_url}"]
    return "\n".join(lines)


def _come_back_at(when: datetime) -> None:
    """One pending one-off digest job at a time, at the earliest time needed."""
    schedule, made = Schedule.objects.get_or_create(
        name=DIGEST,
        defaults={"func": DIGEST_FUNC, "schedule_type": Schedule.ONCE, "next_run": when, "repeats": -1},
    )
    if not made and schedule.next_run and schedule.next_run > when:
        Schedule.objects.filter(pk=schedule.pk).update(next_run=when)
