from django.apps import AppConfig


class RewardsConfig(AppConfig):
    """Settlement, the append-only ledger, balances (payouts and leaderboards: next)."""

    name = "rewards"
