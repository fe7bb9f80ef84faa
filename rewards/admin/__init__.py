"""Rewards in the Django admin: read-only settlements, ledger and audit; payouts with actions."""

from rewards.admin import ledger, payouts

__all__ = ["ledger", "payouts"]
