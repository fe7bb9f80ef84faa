from django.apps import AppConfig


class RewardsConfig(AppConfig):
    """Settlement, vesting and clawbacks, the append-only ledger, payouts, leaderboards."""

    name = "rewards"

    def ready(self) -> None:
        from rewards import receivers  # noqa: F401  (connects the failed-check and rate-change receivers)
