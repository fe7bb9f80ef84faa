"""Nodes' events for the apps above it (validation, rewards), which connect receivers in their
AppConfig.ready(): nodes never imports them.

- ``node_state_requested`` (sender=Node, node=<Node>): ``GET /api/v1/nodes/me`` asks what the
  apps above know about the node; each receiver returns a dict that is merged into the answer
  (validation adds ``reachability``, rewards adds ``earning``). Sent inside the request: a few
  queries, no network I/O.
- ``node_url_seen`` (sender=Node, nodes=<list of (node id, trigger)>): after the heartbeats that
  carried them were committed, nodes whose first heartbeat arrived (trigger "first_heartbeat")
  or whose public URL changed ("url_change"). Validation queues a reachability probe for each.
  Sent from the heartbeat hot path, rarely (once per node, then only on a new URL): receivers
  queue work and return, they never fetch.
"""

from django.dispatch import Signal

node_state_requested = Signal()
node_url_seen = Signal()
