from django.apps import AppConfig


class RewardsConfig(AppConfig):
    """Settlement, ledger, balances, payouts, leaderboards (earnings issue)."""

    name = "rewards"
