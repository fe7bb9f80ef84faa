from django.apps import AppConfig


class NodesConfig(AppConfig):
    """Node, enrollment tokens, node API keys, heartbeat ingest, liveness (node-network issue)."""

    name = "nodes"
