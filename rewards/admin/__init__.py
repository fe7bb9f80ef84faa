"""Rewards in the Django admin: read-only settlements, ledger and audit; payouts and correction
proposals with actions (four eyes above the configured amounts)."""

from rewards.admin import corrections, ledger, payouts

__all__ = ["corrections", "ledger", "payouts"]
