from django.apps import AppConfig


class RewardsConfig(AppConfig):
    """Settlement, vesting and clawbacks, the append-only ledger, payouts, leaderboards."""

    name = "rewards"

    def ready(self) -> None:
        # Connected on import: failed checks and rate changes (receivers), "earning" in GET
        # /api/v1/nodes/me (node_state).
        from rewards import node_state, receivers  # noqa: F401
