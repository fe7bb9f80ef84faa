from django.apps import AppConfig


class NodesConfig(AppConfig):
    """Node, enrollment tokens, node API keys, heartbeat ingest, liveness, assignment."""

    name = "nodes"

    def ready(self) -> None:
        from nodes import assignment  # noqa: F401  (connects the stream lifecycle receivers)
