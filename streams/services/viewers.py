"""Who watches: the origin's own count of open pulls (its play/stop hooks: relays as much as people,
diagnostics only), and the people whose watch pages report loading segments (``Watcher``), which
every viewer count the site shows counts."""

from __future__ import annotations

import re
from contextlib import nullcontext
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from streams.models import Stream, StreamSession, StreamViewer, Watcher
from streams.services.sessions import StreamError

WATCHER_PRESENT = timedelta(seconds=30)  # three of the watch page's 10 s reports


def record_play(*, slug: str, client_id: str, ip: str | None = None) -> bool:
    """Count a player of the live session; False when not counted (offline, or a duplicate hook).

    A player of an offline stream is allowed (it waits for the publish) but not counted, so no
    ghost viewer is carried into the next session.
    """
    live_session = StreamSession.objects.filter(stream=OuterRef("pk"), ended_at__isnull=True)
    found = (
        Stream.objects.filter(slug=slug)
        .annotate(live_session_id=Subquery(live_session.values("pk")[:1]))
        .values_list("pk", "live_session_id")
        .first()
    )
    if found is None:
        raise StreamError("unknown_stream", f"No stream {slug!r}.", 404)
    stream_id, session_id = found
    if session_id is None:
        return False
    # A savepoint only inside a caller's transaction (the duplicate must not break it); in autocommit
    # the INSERT is one round trip instead of BEGIN, INSERT, COMMIT.
    try:
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            StreamViewer.objects.create(
                stream_id=stream_id,
                session_id=session_id,
                client_id=client_id,
                viewer_ip=ip,
                started_at=timezone.now(),
            )
    except IntegrityError:
        return False
    return True


def watcher_reported(
    session: StreamSession, ticket: str, newest_segment: str, *, viewer: str = "", now: datetime | None = None
) -> bool:
    """A ticket's watch page reported loading segments up to ``newest_segment``: that person counts
    as watching for WATCHER_PRESENT. False when not counted: the report names no later segment than
    the ticket's last one (a replay, or names made up to look like progress go nowhere faster than
    the stream), or the client (``viewer``, its address key) already has
    PLAYBACK_WATCHERS_PER_ADDRESS people watching."""
    now = now or timezone.now()
    watcher = Watcher.objects.filter(ticket=ticket).first()
    if watcher is None:
        watching = Watcher.objects.filter(viewer=viewer, session=session, last_seen__gte=now - WATCHER_PRESENT)
        if watching.count() >= settings.PLAYBACK_WATCHERS_PER_ADDRESS:
            return False
        _, created = Watcher.objects.get_or_create(
            ticket=ticket,
            defaults={
                "stream_id": session.stream_id,
                "session": session,
                "viewer": viewer,
                "first_seen": now,
                "last_seen": now,
                "newest_segment": newest_segment,
            },
        )
        return created
    if not _later(newest_segment, watcher.newest_segment):
        return False
    moved = Watcher.objects.filter(pk=watcher.pk, newest_segment=watcher.newest_segment)
    return moved.update(last_seen=now, newest_segment=newest_segment) == 1


_SEQUENCE = re.compile(r"(\d+)\D*$")  # the last number in a segment's name: its sequence


def _later(segment: str, than: str) -> bool:
    """Whether ``segment`` comes after ``than`` in a playlist: by sequence number where both names
    have one (nginx-rtmp, SRS and the agent all number their segments), else merely different."""
    ours, theirs = _SEQUENCE.search(segment.split("?", 1)[0]), _SEQUENCE.search(than.split("?", 1)[0])
    if ours and theirs:
        return int(ours.group(1)) > int(theirs.group(1))
    return segment != than


def watching_now(now: datetime | None = None) -> Q:
    """Filter on a stream's ``watchers`` for the people watching its live session now."""
    since = (now or timezone.now()) - WATCHER_PRESENT
    return Q(watchers__last_seen__gte=since, watchers__session__ended_at__isnull=True)


def prune_watchers(*, now: datetime | None = None) -> int:
    """Forget watchers gone for a day (they count for nothing after WATCHER_PRESENT anyway)."""
    deleted, _ = Watcher.objects.filter(last_seen__lt=(now or timezone.now()) - timedelta(days=1)).delete()
    return deleted


def record_stop(*, slug: str, client_id: str) -> bool:
    """Stop counting a player; returns False when it was not counted (late or duplicate hook)."""
    closed = StreamViewer.objects.filter(stream__slug=slug, client_id=client_id, ended_at__isnull=True).update(
        ended_at=timezone.now()
    )
    return closed > 0
