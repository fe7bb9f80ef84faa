"""Stream keys: random secrets shown once, stored only as a SHA-256 digest.

A key has 192 bits of entropy, so a fast digest is enough (no password stretching needed) and
keeps the publish hook fast: the origin blocks the publisher while it waits for our answer.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "sk_"
HINT_LENGTH = 4


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(24)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_hint(key: str) -> str:
    """The key's last characters, to tell keys apart in the admin without revealing them."""
    return key[-HINT_LENGTH:]


def key_matches(key: str | None, key_hash: str) -> bool:
    if not key or not key_hash:
        return False
    return hmac.compare_digest(hash_key(key), key_hash)
