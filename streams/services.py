"""The one place that changes streams, sessions and viewers.

Hooks, the admin, management commands and (later) jobs call these functions and translate
``StreamError`` into their own kind of answer. Every function is idempotent towards the
origin's hooks: a duplicate, late or out-of-order hook leaves the state as it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from streams import keys
from streams.models import PUBLISH_APP, Stream, StreamSession, StreamViewer

log = logging.getLogger(__name__)


class StreamError(Exception):
    """A refused stream operation; ``status`` is the HTTP status a caller should answer with."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class PublishRefused(StreamError):
    pass


@dataclass(frozen=True)
class PublishRequest:
    """What an origin tells us about a publisher, whatever its hook format."""

    origin: str
    app: str
    slug: str
    key: str | None
    client_id: str
    server_id: str = ""
    ip: str | None = None


# --- Streams and keys ---------------------------------------------------------------------------


def create_stream(
    *,
    owner: User,
    slug: str,
    title: str = "",
    reward_rate_per_hour: Decimal | None = None,
    is_active: bool = True,
) -> tuple[Stream, str]:
    """Create a stream; returns it with its key, which is never stored and never shown again."""
    if reward_rate_per_hour is not None and reward_rate_per_hour < 0:
        raise StreamError("invalid_rate", "The reward rate cannot be negative.")
    if Stream.objects.filter(slug=slug).exists():
        raise StreamError("slug_taken", f"A stream with slug {slug!r} already exists.", status=409)
    key = keys.new_key()
    stream = Stream(owner=owner, slug=slug, title=title or slug, is_active=is_active)
    if reward_rate_per_hour is not None:
        stream.reward_rate_per_hour = reward_rate_per_hour
    _set_key(stream, key)
    stream.full_clean()
    try:
        with transaction.atomic():
            stream.save()
    except IntegrityError:
        raise StreamError("slug_taken", f"A stream with slug {slug!r} already exists.", status=409) from None
    log.info("stream created: %s (owner %s)", stream.slug, stream.owner_id)
    return stream, key


def rotate_key(stream: Stream) -> str:
    """Replace the stream key; the old key stops working at once. A live publish keeps going."""
    key = keys.new_key()
    _set_key(stream, key)
    Stream.objects.filter(pk=stream.pk).update(
        key_hash=stream.key_hash, key_hint=stream.key_hint, key_rotated_at=stream.key_rotated_at
    )
    log.info("stream key rotated: %s", stream.slug)
    return key


def set_active(streams: QuerySet[Stream], *, active: bool) -> int:
    """Enable or disable publishing; a live publish of a disabled stream runs to its end."""
    count = streams.exclude(is_active=active).update(is_active=active)
    log.info("%d stream(s) %s", count, "activated" if active else "deactivated")
    return count


def _set_key(stream: Stream, key: str) -> None:
    stream.key_hash = keys.hash_key(key)
    stream.key_hint = keys.key_hint(key)
    stream.key_rotated_at = timezone.now()


# --- Publishing ---------------------------------------------------------------------------------


def admit_publish(request: PublishRequest) -> StreamSession:
    """Admit a publisher and open its session, or raise ``PublishRefused``.

    A repeated on_publish for the publisher that already holds the live session is answered
    with that session (origins may retry); any other publisher of a live stream is refused.
    """
    if request.app != PUBLISH_APP:
        raise PublishRefused("unknown_app", f"Publish to /{PUBLISH_APP}/<stream>, not /{request.app}/.", 404)
    with transaction.atomic():
        # The row lock serialises concurrent publishes of one stream on PostgreSQL; the partial
        # unique index below is the backstop everywhere (SQLite has no row locks).
        stream = Stream.objects.select_for_update().filter(slug=request.slug).first()
        if stream is None:
            raise PublishRefused("unknown_stream", f"No stream {request.slug!r}.", 404)
        if not keys.key_matches(request.key, stream.key_hash):
            raise PublishRefused("wrong_key", "Wrong or missing stream key.", 403)
        if not stream.is_active:
            raise PublishRefused("stream_inactive", "This stream is disabled.", 403)
        live = StreamSession.objects.filter(stream=stream, ended_at__isnull=True).first()
        if live is not None:
            if (live.origin, live.client_id, live.server_id) == (
                request.origin,
                request.client_id,
                request.server_id,
            ):
                return live
            raise PublishRefused("already_live", "Another publisher is live on this stream.", 409)
        try:
            with transaction.atomic():
                session = StreamSession.objects.create(
                    stream=stream,
                    origin=request.origin,
                    client_id=request.client_id,
                    server_id=request.server_id,
                    publisher_ip=request.ip,
                    started_at=timezone.now(),
                )
        except IntegrityError:
            raise PublishRefused("already_live", "Another publisher is live on this stream.", 409) from None
    log.info("stream live: %s (client %s from %s)", stream.slug, request.client_id, request.ip)
    return session


def end_publish(
    *, origin: str, slug: str, client_id: str, server_id: str = "", reason: str = "unpublish"
) -> StreamSession | None:
    """Close the live session opened by this publisher; anything else is a late hook: ignored."""
    with transaction.atomic():
        session = (
            StreamSession.objects.select_for_update()
            .filter(
                stream__slug=slug,
                ended_at__isnull=True,
                origin=origin,
                client_id=client_id,
                server_id=server_id,
            )
            .first()
        )
        if session is None:
            return None
        _close_session(session, reason)
    log.info("stream offline: %s (%s)", slug, reason)
    return session


def end_session(session: StreamSession, *, reason: str) -> bool:
    """Force a session closed (admin), e.g. after an origin crashed without on_unpublish."""
    with transaction.atomic():
        locked = (
            StreamSession.objects.select_for_update().filter(pk=session.pk, ended_at__isnull=True).first()
        )
        if locked is None:
            return False
        _close_session(locked, reason)
    session.refresh_from_db()
    log.info("session %s of %s ended: %s", session.pk, session.stream_id, reason)
    return True


def _close_session(session: StreamSession, reason: str) -> None:
    now = timezone.now()
    session.ended_at = now
    session.end_reason = reason
    session.save(update_fields=["ended_at", "end_reason"])
    # Players cannot outlive the publish at the origin; their stop hooks may never come.
    StreamViewer.objects.filter(stream_id=session.stream_id, ended_at__isnull=True).update(ended_at=now)


# --- Viewers ------------------------------------------------------------------------------------


def record_play(*, slug: str, client_id: str, ip: str | None = None) -> bool:
    """Count a player; returns False when this client was already counted (duplicate hook)."""
    stream_id = Stream.objects.filter(slug=slug).values_list("id", flat=True).first()
    if stream_id is None:
        raise StreamError("unknown_stream", f"No stream {slug!r}.", 404)
    try:
        with transaction.atomic():
            StreamViewer.objects.create(
                stream_id=stream_id, client_id=client_id, viewer_ip=ip, started_at=timezone.now()
            )
    except IntegrityError:
        return False
    return True


def record_stop(*, slug: str, client_id: str) -> bool:
    """Stop counting a player; returns False when it was not counted (late or duplicate hook)."""
    closed = StreamViewer.objects.filter(
        stream__slug=slug, client_id=client_id, ended_at__isnull=True
    ).update(ended_at=timezone.now())
    return closed > 0
