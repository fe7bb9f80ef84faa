"""Enrollment tokens, node registration, and finding the node behind an API key."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core import tokens
from core.errors import ServiceError
from nodes.models import Approval, EnrollmentToken, Node

log = logging.getLogger(__name__)

ENROLLMENT_PREFIX = "et_"
API_KEY_PREFIX = "nk_"


class NodeError(ServiceError):
    """A refused node operation (enrollment, registration)."""


def create_enrollment_token(user: User, *, ttl: timedelta | None = None) -> tuple[EnrollmentToken, str]:
    ttl = ttl or timedelta(hours=settings.ENROLLMENT_TOKEN_TTL_HOURS)
    token = tokens.new_token(ENROLLMENT_PREFIX)
    record = EnrollmentToken.objects.create(user=user, token_hash=tokens.digest(token), expires_at=timezone.now() + ttl)
    log.info("enrollment token created for %s (expires %s)", user.get_username(), record.expires_at)
    return record, token


def register_node(*, token: str, name: str, public_url: str) -> tuple[Node, str]:
    """Spend an enrollment token on a new node; returns it with its API key (shown once)."""
    now = timezone.now()
    with transaction.atomic():
        record = EnrollmentToken.objects.filter(token_hash=tokens.digest(token)).first()
        if record is None:
            raise NodeError("invalid_token", "Unknown enrollment token.", 403)
        if record.used_at is not None:
            raise NodeError("token_used", "This enrollment token was already used.", 403)
        if record.expires_at <= now:
            raise NodeError("token_expired", "This enrollment token has expired; create a new one.", 403)
        # Claim the token with a conditional update: of two concurrent registrations, one wins.
        # One friend's identities share a machine's uplink: a cap keeps a friend from taking one
        # share per fake node. The owner's row lock makes two concurrent registrations count in turn.
        User.objects.select_for_update().filter(pk=record.user_id).first()
        if Node.objects.filter(owner_id=record.user_id).count() >= settings.NODE_MAX_PER_USER:
            raise NodeError(
                "too_many_nodes",
                f"This account already has {settings.NODE_MAX_PER_USER} node(s), the most one friend may run.",
                409,
            )
        if not EnrollmentToken.objects.filter(pk=record.pk, used_at__isnull=True).update(used_at=now):
            raise NodeError("token_used", "This enrollment token was already used.", 403)
        api_key = tokens.new_token(API_KEY_PREFIX)
        node = Node.objects.create(
            owner_id=record.user_id,
            name=name,
            public_url=public_url,
            api_key_hash=tokens.digest(api_key),
            api_key_hint=tokens.hint(api_key),
            approval=Approval.PENDING if settings.NODE_APPROVAL_REQUIRED else Approval.APPROVED,
            heartbeat_interval=settings.HEARTBEAT_INTERVAL_SECONDS,
        )
        EnrollmentToken.objects.filter(pk=record.pk).update(node=node)
    log.info("node %s registered by user %s (%s)", node.pk, record.user_id, node.approval)
    return node, api_key


def authenticate(api_key: str) -> Node | None:
    """The node holding this API key: one indexed lookup by digest."""
    if not api_key.startswith(API_KEY_PREFIX) or len(api_key) > 100:
        return None
    return Node.objects.select_related("assigned_stream").filter(api_key_hash=tokens.digest(api_key)).first()
