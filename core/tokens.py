"""Secrets shown once and stored as a SHA-256 digest: stream keys, node API keys, enrollment tokens.

Each has 192 random bits, so a fast digest is enough (no password stretching) and the hot paths
that check them — the publish hook, every heartbeat — stay one indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

HINT_LENGTH = 4


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(24)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hint(token: str) -> str:
    """The token's last characters, to tell tokens apart in the admin without revealing them."""
    return token[-HINT_LENGTH:]


def matches(token: str | None, token_digest: str) -> bool:
    if not token or not token_digest:
        return False
    return hmac.compare_digest(digest(token), token_digest)


def constant_time_equal(given: str, expected: str) -> bool:
    """For secrets compared as they are (the hook secret, the metrics token)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def bearer(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value; None for anything else."""
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None
