"""Admins' operations on nodes: approve, pin to a stream, suspend; the resolved endpoint."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from nodes import assignment
from nodes.models import Approval, Node
from streams.models import Stream

log = logging.getLogger(__name__)


def approve(nodes: QuerySet[Node]) -> int:
    """Approve (or reinstate) nodes; those online get an assignment at once if a stream is live."""
    with transaction.atomic():
        pending = assignment.lock_in_id_order(nodes.exclude(approval=Approval.APPROVED))
        count = Node.objects.filter(pk__in=pending).update(approval=Approval.APPROVED)
    for node in Node.objects.filter(pk__in=pending, stale_after__gt=timezone.now()):
        assignment.assign_node(node)
    log.info("%d node(s) approved", count)
    return count


def pin(node: Node, stream: Stream | None) -> None:
    """Relay only ``stream`` (or any, with None); a current assignment that no longer fits goes."""
    with transaction.atomic():
        Node.objects.filter(pk=node.pk).update(pinned_stream=stream)
        if stream is not None:
            Node.objects.filter(pk=node.pk).exclude(assigned_stream=stream).update(
                assigned_stream=None, assigned_at=None
            )
    node.refresh_from_db()
    if node.assigned_stream_id is None:
        assignment.assign_node(node)


def set_endpoint(node: Node, address: str) -> None:
    """Record the address the node's public host resolves to (the spot-checker resolves it)."""
    Node.objects.filter(pk=node.pk).update(endpoint=address)
    node.endpoint = address


def suspend(nodes: QuerySet[Node], *, reason: str = "") -> int:
    """Suspended nodes lose their assignment at once and get none until reinstated."""
    with transaction.atomic():
        ids = assignment.lock_in_id_order(nodes.exclude(approval=Approval.SUSPENDED))
        count = Node.objects.filter(pk__in=ids).update(
            approval=Approval.SUSPENDED, assigned_stream=None, assigned_at=None
        )
    log.info("%d node(s) suspended%s", count, f": {reason}" if reason else "")
    return count
