"""Email notifications: ``notify(user, kind, subject, body)`` for every app above accounts.

Each person chooses which kinds of email they get (``NotificationSettings``, one switch per kind;
a missing row means every kind is on) on ``/me/notifications``, linked from every email's footer.

Sending never happens inside the caller's transaction nor in its request or job: ``notify`` only
decides whether the person wants the email and, once the caller's transaction commits, queues a
django-q2 job (``deliver``) that sends it with Django's email backend (the console locally, SMTP in
production with ``EMAIL_TIMEOUT``). A change that rolls back mails nothing; a mail server that is
slow or down costs a worker at most the timeout and is logged, never raised to the caller. Never
call ``notify`` from the heartbeat path: the offline job (``nodes.tasks``) tells owners instead.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from accounts.models import NotificationSettings

log = logging.getLogger(__name__)

NODE_OFFLINE = "node_offline"
NODE_PENALTIES = "node_penalties"
PAYOUTS = "payouts"
PAYOUTS_WAITING = "payouts_waiting"
# Each kind is a switch of NotificationSettings; the words (``describe``) are the settings page's and
# the footer's.
KINDS: dict[str, str] = {
    NODE_OFFLINE: "a node of yours is offline for over {NODE_OFFLINE_NOTIFY_MINUTES} minutes (once per outage)",
    NODE_PENALTIES: "a node of yours failed a spot-check, was suspended, or an appeal was decided",
    PAYOUTS: "a payout of yours changed state (requested, approved, rejected, paid)",
    PAYOUTS_WAITING: (
        "payouts wait for your approval (admins; one email per {PAYOUTS_WAITING_NOTIFY_MINUTES} minutes at most)"
    ),
}


def describe(kind: str) -> str:
    """What an email of ``kind`` is about, in words (with the configured minutes)."""
    return KINDS[kind].format(
        NODE_OFFLINE_NOTIFY_MINUTES=settings.NODE_OFFLINE_NOTIFY_MINUTES,
        PAYOUTS_WAITING_NOTIFY_MINUTES=settings.PAYOUTS_WAITING_NOTIFY_MINUTES,
    )


class UnknownKind(ValueError):
    pass


def settings_for(user: User) -> NotificationSettings:
    """The person's switches (an unsaved all-on row when they never changed any)."""
    found = NotificationSettings.objects.filter(user=user).first()
    return found or NotificationSettings(user=user)


def update_settings(user: User, choices: dict[str, bool]) -> NotificationSettings:
    """Turn kinds on or off (only the kinds named in ``choices``)."""
    unknown = set(choices) - set(KINDS)
    if unknown:
        raise UnknownKind(f"unknown notification kinds: {sorted(unknown)}")
    row, _ = NotificationSettings.objects.get_or_create(user=user)
    for kind, on in choices.items():
        setattr(row, kind, bool(on))
    row.save(update_fields=list(choices) or None)
    return row


def wanting(user_ids: Iterable[int], kind: str) -> set[int]:
    """Which of these people want emails of ``kind`` (a missing row: yes)."""
    if kind not in KINDS:
        raise UnknownKind(kind)
    ids = set(user_ids)
    opted_out = NotificationSettings.objects.filter(user_id__in=ids, **{kind: False}).values_list("user_id", flat=True)
    return ids - set(opted_out)


def wants(user: User, kind: str) -> bool:
    return bool(user.is_active and user.email) and user.pk in wanting([user.pk], kind)


def notify(user: User, kind: str, subject: str, body: str) -> bool:
    """Email ``user`` about ``kind`` once the caller's transaction commits (at once outside one),
    unless they turned that kind off or have no address. True when the email was queued."""
    if not wants(user, kind):
        return False
    transaction.on_commit(functools.partial(_enqueue, user.pk, kind, subject, body), robust=True)
    return True


def _enqueue(user_id: int, kind: str, subject: str, body: str) -> None:
    try:
        async_task("accounts.notifications.deliver", user_id, kind, subject, body, task_name=f"email {kind}")
    except Exception:  # the broker is down: this email is lost, the caller's change is not
        log.exception("could not queue a %s email to user %s", kind, user_id)


def settings_url() -> str:
    return settings.SITE_URL.rstrip("/") + reverse("notification-settings")


def deliver(user_id: int, kind: str, subject: str, body: str) -> bool:
    """The django-q2 job: send one email (the person's choice is asked again: they may have turned
    the kind off since). False when not sent; a failing mail server is logged, never raised, so
    django-q2 does not retry into a person's inbox twice."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or not wants(user, kind):
        return False
    footer = (
        f"\n\n--\nYou get this email because {describe(kind)}.\n"
        f"Choose which emails StreamrP2P sends you: {settings_url()}\n"
    )
    try:
        send_mail(f"[StreamrP2P] {subject}", body + footer, None, [user.email], fail_silently=False)
    except Exception:
        log.exception("could not send a %s email to user %s", kind, user_id)
        return False
    log.info("sent a %s email to user %s", kind, user_id)
    return True


def claim_batch(user_ids: Iterable[int], kind: str, every: timedelta) -> list[int]:
    """Of these people who want ``kind``, those not emailed about it within ``every``, each claimed
    with a conditional update (two workers never both claim one person): at most one email per
    person per ``every``, however many events happen. Only PAYOUTS_WAITING keeps a send time."""
    if kind != PAYOUTS_WAITING:
        raise UnknownKind(f"{kind} is not sent in batches")
    now = timezone.now()
    claimed = []
    for user_id in sorted(wanting(user_ids, kind)):
        NotificationSettings.objects.get_or_create(user_id=user_id)  # races end in a get (savepoint)
        due = Q(payouts_waiting_sent_at__isnull=True) | Q(payouts_waiting_sent_at__lte=now - every)
        if NotificationSettings.objects.filter(due, user_id=user_id).update(payouts_waiting_sent_at=now):
            claimed.append(user_id)
    return claimed
