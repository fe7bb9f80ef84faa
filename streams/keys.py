"""Stream keys: ``sk_…`` tokens, shown once, stored as a digest (see core.tokens)."""

from __future__ import annotations

from core import tokens

KEY_PREFIX = "sk_"


def new_key() -> str:
    return tokens.new_token(KEY_PREFIX)


hash_key = tokens.digest
key_hint = tokens.hint
key_matches = tokens.matches
