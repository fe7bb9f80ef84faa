"""Which live stream each node relays.

Policy (simple on purpose, documented in the README):
- only approved nodes that are online (heartbeat deadline not passed) get an assignment;
- a node pinned to a stream (the stream its owner supports) relays that stream only, when live;
- any other node relays a live stream, the one with the fewest assigned nodes (ties: slug), so
  that relays spread over concurrent streams;
- when a stream goes live or offline, the unpinned nodes are spread evenly again over the live
  streams, moving as few nodes as possible.
An assignment is kept while the node is stale (it may come back); nodes without one get one at
their next heartbeat.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.dispatch import receiver
from django.utils import timezone

from nodes.models import Approval, Node, online_q
from streams.models import Stream, StreamSession
from streams.signals import stream_went_live, stream_went_offline

log = logging.getLogger(__name__)


def live_streams() -> QuerySet[Stream]:
    # Exists(), not sessions__ended_at__isnull: that join would also match streams never published.
    # A stream deactivated while live stays live (and relayed) until its publish ends.
    live_session = StreamSession.objects.filter(stream=OuterRef("pk"), ended_at__isnull=True)
    return Stream.objects.filter(Exists(live_session))


def choose_stream(node: Node) -> Stream | None:
    candidates = live_streams()
    if node.pinned_stream_id is not None:
        candidates = candidates.filter(pk=node.pinned_stream_id)
    online_relays = Count("assigned_nodes", filter=Q(assigned_nodes__stale_after__gt=timezone.now()))
    return candidates.annotate(relays=online_relays).order_by("relays", "slug").first()


def assign_node(node: Node) -> Stream | None:
    """Give an unassigned, approved node a live stream; returns the node's stream afterwards."""
    if node.approval != Approval.APPROVED:
        return None
    if node.assigned_stream_id is not None:
        return node.assigned_stream
    stream = choose_stream(node)
    if stream is None:
        return None
    # Conditional update: a concurrent heartbeat of the same node cannot assign it twice.
    now = timezone.now()
    if Node.objects.filter(pk=node.pk, assigned_stream__isnull=True).update(assigned_stream=stream, assigned_at=now):
        node.assigned_stream, node.assigned_at = stream, now
        log.info("node %s assigned to %s", node.pk, stream.slug)
        return stream
    node.refresh_from_db(fields=["assigned_stream", "assigned_at"])
    return node.assigned_stream


def lock_in_id_order(nodes: QuerySet[Node]) -> list[int]:
    """Lock these nodes' rows in id order, as heartbeat batches lock theirs (call it inside a
    transaction, before updating them): an UPDATE of many nodes locks in whatever order it scans
    them, and could deadlock with a batch holding some of them."""
    # A fresh query on the ids: the caller's queryset may join (the admin's select_related) or be
    # distinct, and PostgreSQL locks neither the nullable side of a join nor a DISTINCT.
    ids = Node.objects.filter(pk__in=nodes.values("pk")).select_for_update(of=("self",)).order_by("pk")
    return list(ids.values_list("pk", flat=True))


def rebalance() -> int:
    """Spread the unpinned online nodes evenly over the live streams, moving as few as possible.

    Pinned nodes relay their own stream when it is live. Returns how many nodes changed stream.
    """
    with transaction.atomic():
        return _rebalance()


def _rebalance() -> int:
    now = timezone.now()
    streams = [s.pk for s in live_streams().order_by("slug")]
    eligible = Node.objects.filter(online_q(now), approval=Approval.APPROVED)
    lock_in_id_order(eligible)  # every node this may move, up front and in order
    # Pinned nodes go home, wherever they were: one statement, however many streams are live.
    moved = (
        eligible.filter(pinned_stream_id__in=streams)
        .exclude(assigned_stream_id=F("pinned_stream_id"))
        .update(assigned_stream_id=F("pinned_stream_id"), assigned_at=now)
    )
    if not streams:
        return moved
    free = list(eligible.filter(pinned_stream__isnull=True).order_by("pk").values_list("pk", "assigned_stream_id"))
    share, extra = divmod(len(free), len(streams))
    wanted = {stream_id: share + (index < extra) for index, stream_id in enumerate(streams)}
    staying: dict[int, list[int]] = {stream_id: [] for stream_id in streams}
    to_place: list[int] = []
    for pk, current in free:
        if current in staying and len(staying[current]) < wanted[current]:
            staying[current].append(pk)
        else:
            to_place.append(pk)
    for stream_id in streams:
        need = wanted[stream_id] - len(staying[stream_id])
        chunk, to_place = to_place[:need], to_place[need:]
        if chunk:
            moved += (
                Node.objects.filter(pk__in=chunk)
                .exclude(assigned_stream_id=stream_id)
                .update(assigned_stream_id=stream_id, assigned_at=now)
            )
    if moved:
        log.info("rebalanced: %d node(s) changed stream", moved)
    return moved


def release_nodes(stream: Stream) -> int:
    """Withdraw ``stream`` from its nodes, then spread them over the streams still live."""
    with transaction.atomic():
        ids = lock_in_id_order(Node.objects.filter(assigned_stream=stream))
        count = Node.objects.filter(pk__in=ids).update(assigned_stream=None, assigned_at=None)
    if count:
        log.info("%d node(s) released from %s", count, stream.slug)
    rebalance()
    return count


@receiver(stream_went_live, dispatch_uid="nodes.assign_on_live")
def _on_stream_live(sender: Any, stream: Stream, **kwargs: Any) -> None:
    rebalance()  # the new stream gets its share, also of nodes already relaying another one


@receiver(stream_went_offline, dispatch_uid="nodes.release_on_offline")
def _on_stream_offline(sender: Any, stream: Stream, **kwargs: Any) -> None:
    release_nodes(stream)
