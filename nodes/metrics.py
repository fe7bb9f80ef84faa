"""What this process counts in memory for Prometheus; web/ops.py puts it on /metrics.

Made without a registry (``registry=None``): the one registry /metrics serves is web's, which
nodes must not import (it sits below web)."""

from __future__ import annotations

from prometheus_client import Counter

HEARTBEATS = Counter("streamr_heartbeats_received", "Heartbeats accepted by this web process.", registry=None)
