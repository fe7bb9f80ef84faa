"""The one place that changes nodes: enrollment, registration, heartbeats, approval.

Split by responsibility; everything is re-exported here, so callers use ``nodes.services.X``:
- ``enrollment``: enrollment tokens, registration, finding the node behind an API key;
- ``heartbeats``: the hot path, recorded in batches (one short transaction per batch);
- ``approval``: admins' operations (approve, pin, suspend) and the resolved endpoint;
- ``retention``: pruning minute buckets settlement no longer needs.
"""

from nodes.services.approval import approve, pin, set_endpoint, suspend
from nodes.services.enrollment import (
    API_KEY_PREFIX,
    ENROLLMENT_PREFIX,
    NodeError,
    authenticate,
    create_enrollment_token,
    register_node,
)
from nodes.services.heartbeats import (
    MAX_CREDITED_GAP_SECONDS,
    Heartbeat,
    HeartbeatResult,
    record_heartbeat,
    record_heartbeats,
)
from nodes.services.retention import minute_bucket_hours, prune_node_minutes

__all__ = [
    "API_KEY_PREFIX",
    "ENROLLMENT_PREFIX",
    "MAX_CREDITED_GAP_SECONDS",
    "Heartbeat",
    "HeartbeatResult",
    "NodeError",
    "approve",
    "authenticate",
    "create_enrollment_token",
    "minute_bucket_hours",
    "pin",
    "prune_node_minutes",
    "record_heartbeat",
    "record_heartbeats",
    "register_node",
    "set_endpoint",
    "suspend",
]
