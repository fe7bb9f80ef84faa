"""rewards' part of a node's own state (``GET /api/v1/nodes/me``): whether it earns right now and,
when not, why (connected in RewardsConfig.ready to nodes.signals.node_state_requested)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from nodes.models import Node
from nodes.signals import node_state_requested
from rewards.services import earning


@receiver(node_state_requested, sender=Node, dispatch_uid="rewards.earning_state")
def earning_state(sender: type[Node], node: Node, **kwargs: Any) -> dict[str, Any]:
    verdict = earning.why_not([node])[node.pk]
    return {"earning": {"ok": verdict.ok, "why": verdict.why}}
