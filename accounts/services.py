"""Invite-only sign-up: an admin (or `manage.py invite`) makes a one-time link; spending it makes
the account. The token is shown once and stored as a digest, like every other secret here."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invite
from core import tokens
from core.errors import ServiceError

log = logging.getLogger(__name__)
INVITE_PREFIX = "inv_"


class InviteError(ServiceError):
    pass


def invite_link(token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("accept-invite", args=[token])


def create_invite(email: str, *, created_by: User | None = None, ttl: timedelta | None = None) -> tuple[Invite, str]:
    """A new one-time sign-up link for ``email``; returns the invite and the link (shown once)."""
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise InviteError("bad_email", f"{email!r} is not an email address.") from None
    token = tokens.new_token(INVITE_PREFIX)
    ttl = ttl or timedelta(days=settings.INVITE_TTL_DAYS)
    invite = Invite.objects.create(
        email=email, token_hash=tokens.digest(token), created_by=created_by, expires_at=timezone.now() + ttl
    )
    log.info("invite %s created for %s by %s", invite.pk, email, created_by or "the command line")
    return invite, invite_link(token)


def revoke_invite(invite: Invite) -> None:
    """End an unused link now (it is being replaced)."""
    Invite.objects.filter(pk=invite.pk, used_at__isnull=True).update(expires_at=timezone.now())


def open_invite(token: str) -> Invite:
    """The unused, unexpired invite behind ``token``; InviteError otherwise."""
    invite = Invite.objects.filter(token_hash=tokens.digest(token)).first()
    if invite is None:
        raise InviteError("invalid_invite", "This invite link is not valid.", 404)
    if invite.used_at is not None:
        raise InviteError("invite_used", "This invite link was already used. Log in instead.", 410)
    if invite.expires_at <= timezone.now():
        raise InviteError("invite_expired", "This invite link has expired; ask for a new one.", 410)
    return invite


def accept_invite(token: str, *, username: str, password: str) -> User:
    """Spend the invite on a new account. Of two concurrent uses of one link, one wins."""
    invite = open_invite(token)
    candidate = User(username=username, email=invite.email)
    try:
        User._meta.get_field("username").run_validators(username)
        validate_password(password, candidate)
    except ValidationError as exc:
        raise InviteError("invalid", " ".join(exc.messages)) from None
    now = timezone.now()
    try:
        with transaction.atomic():
            if not Invite.objects.filter(pk=invite.pk, used_at__isnull=True).update(used_at=now):
                raise InviteError("invite_used", "This invite link was already used. Log in instead.", 410)
            user = User.objects.create_user(username=username, email=invite.email, password=password)
            Invite.objects.filter(pk=invite.pk).update(used_by=user)
    except IntegrityError:
        raise InviteError("username_taken", f"The username {username!r} is taken; choose another.") from None
    log.info("invite %s accepted by new user %s", invite.pk, username)
    return user
