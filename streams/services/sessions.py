"""Streams and their live sessions: keys, publishes admitted and ended, the origin's signs of life."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Model, Q, QuerySet
from django.utils import timezone

from core import live as live_updates
from core.errors import ServiceError
from streams import keys
from streams.events import StreamState
from streams.models import PUBLISH_APP, Origin, OriginMinute, Stream, StreamSession, StreamViewer
from streams.signals import stream_went_live, stream_went_offline

log = logging.getLogger(__name__)
RESUME_WITHIN = timedelta(hours=1)  # a session ended as silent comes back if its origin speaks within this


class StreamError(ServiceError):
    """A refused stream operation."""


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
        live, ended_before = _live_or_ended(stream, request)
        if live is not None:
            if (live.origin, live.client_id, live.server_id) == (
                request.origin,
                request.client_id,
                request.server_id,
            ):
                return live
            if not _silent(live):
                raise PublishRefused("already_live", "Another publisher is live on this stream.", 409)
            # The origin stopped reporting this publish (crash, lost on_unpublish): take over.
            _close_session(live, "silent")
        elif ended_before:
            # SRS client ids are unique per server: this on_publish is a late copy of one whose
            # on_unpublish we already had. Opening a session now would leave it live forever.
            raise PublishRefused("session_ended", "This publish has already ended.", 409)
        try:
            # No savepoint: an IntegrityError ends this transaction anyway (rolled back on the way out).
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
        _alive(stream.pk, session.started_at)
        transaction.on_commit(lambda: stream_went_live.send(sender=Stream, stream=stream, session=session), robust=True)
        live_updates.push(StreamState(slug=stream.slug, title=stream.title, live=True, since=session.started_at))
    log.info("stream live: %s (client %s from %s)", stream.slug, request.client_id, request.ip)
    return session


def _silent(session: StreamSession) -> bool:
    """True when the origin sent signs of life for this session once, but none lately.

    Sessions of an origin that sends none (hooks not configured) never count as silent: a
    second publisher is then refused until on_unpublish or an admin ends the session.
    """
    if session.last_signal_at is None:
        return False
    silence = timedelta(seconds=settings.STREAM_SESSION_SILENCE_SECONDS)
    return session.last_signal_at < timezone.now() - silence


def _live_or_ended(stream: Stream, request: PublishRequest) -> tuple[StreamSession | None, bool]:
    """The stream's live session, and (when there is none) whether this SRS publish already ended:
    one query for both."""
    found = Q(ended_at__isnull=True)
    if request.origin == Origin.SRS and request.server_id:
        found |= Q(origin=request.origin, server_id=request.server_id, client_id=request.client_id)
    first = (
        StreamSession.objects.filter(found, stream=stream)
        .order_by(F("ended_at").asc(nulls_first=True), "-started_at")
        .first()
    )
    if first is None:
        return None, False
    if first.ended_at is None:
        return first, False
    return None, True


def record_signal(*, origin: str, slug: str, client_id: str, server_id: str = "", now: datetime | None = None) -> bool:
    """Note that the origin still carries this publish (periodic hooks); False if no such session."""
    now = now or timezone.now()
    # One statement for the lookup and the update (both SQLite and PostgreSQL know RETURNING).
    sql = (
        f"UPDATE {_quoted(StreamSession)} SET last_signal_at = %s WHERE ended_at IS NULL AND origin = %s"  # noqa: S608  (table names from models)
        f" AND client_id = %s AND server_id = %s AND stream_id = (SELECT id FROM {_quoted(Stream)} WHERE slug = %s)"
        " RETURNING stream_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(now), origin, client_id, server_id, slug])
        updated = cursor.fetchall()
    if not updated:
        return _resume_silent(origin=origin, slug=slug, client_id=client_id, server_id=server_id, now=now)
    _alive(updated[0][0], now)
    return True


def _quoted(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _resume_silent(*, origin: str, slug: str, client_id: str, server_id: str, now: datetime) -> bool:
    """The origin speaks again for a publish we ended as silent (the site, its database or the
    hooks were out for a while; the stream never stopped): reopen that session. The minutes of
    the silence stay unpaid; nothing vouched for them."""
    session = (
        StreamSession.objects.select_related("stream")
        .filter(
            stream__slug=slug,
            origin=origin,
            client_id=client_id,
            server_id=server_id,
            end_reason="silent",
            ended_at__gte=now - RESUME_WITHIN,
        )
        .order_by("-started_at")
        .first()
    )
    if session is None:
        return False
    try:
        with transaction.atomic():
            # Only if it is still the stream's latest session, and no other publisher went live since.
            newer = StreamSession.objects.filter(stream_id=session.stream_id, started_at__gt=session.started_at)
            if newer.exists() or not StreamSession.objects.filter(pk=session.pk, end_reason="silent").update(
                ended_at=None, end_reason="", last_signal_at=now
            ):
                return False
            _alive(session.stream_id, now)
    except IntegrityError:  # another session went live meanwhile
        return False
    session.refresh_from_db()
    stream = session.stream
    transaction.on_commit(lambda: stream_went_live.send(sender=Stream, stream=stream, session=session), robust=True)
    live_updates.push(StreamState(slug=stream.slug, title=stream.title, live=True, since=session.started_at))
    log.info("stream live again: %s (its origin spoke after a silence)", slug)
    return True


def record_origin_alive(stream: Stream, *, now: datetime | None = None) -> bool:
    """The origin's HLS of the live session was readable now (the spot-checker's samples): a sign
    of life like a hook's. False when the stream has no live session."""
    now = now or timezone.now()
    if not StreamSession.objects.filter(stream=stream, ended_at__isnull=True).update(last_signal_at=now):
        return False
    _alive(stream.pk, now)
    return True


def _alive(stream_id: int, moment: datetime) -> None:
    # One INSERT … ON CONFLICT DO NOTHING: bulk_create(ignore_conflicts=True) would wrap it in a
    # transaction of its own (BEGIN, INSERT, COMMIT: three round trips on the hot on_hls path).
    minute = moment.replace(second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_quoted(OriginMinute)} (stream_id, minute) VALUES (%s, %s) ON CONFLICT DO NOTHING",  # noqa: S608  (table name from the model)
            [stream_id, connection.ops.adapt_datetimefield_value(minute)],
        )


def alive_minutes(stream: Stream, start: datetime, end: datetime) -> set[datetime]:
    """The minutes in [start, end) in which the origin showed the stream was alive."""
    found = OriginMinute.objects.filter(stream=stream, minute__gte=start, minute__lt=end)
    return set(found.values_list("minute", flat=True))


def close_silent_sessions(*, now: datetime | None = None) -> int:
    """End live sessions whose origin sent signs of life once but none for
    STREAM_SESSION_SILENCE_SECONDS (it died without on_unpublish), at their last sign of life:
    the minutes after it are not live and pay nobody. Sessions that never had a signal (an origin
    without periodic hooks, not sampled yet) are left to their unpublish or an admin."""
    now = now or timezone.now()
    silence = timedelta(seconds=settings.STREAM_SESSION_SILENCE_SECONDS)
    closed = 0
    for session in StreamSession.objects.filter(ended_at__isnull=True, last_signal_at__lt=now - silence):
        with transaction.atomic():
            # Claimed with a conditional update: a hook or a second worker racing us wins or loses whole.
            won = StreamSession.objects.filter(
                pk=session.pk, ended_at__isnull=True, last_signal_at=session.last_signal_at
            ).update(ended_at=session.last_signal_at, end_reason="silent")
            if not won:
                continue
            session.refresh_from_db()
            _after_close(session)
        closed += 1
        log.info("stream offline: %s (origin silent since %s)", session.stream.slug, session.last_signal_at)
    return closed


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
    """Force a session closed (admin), e.g. after an origin crashed without on_unpublish.

    A silent session (its origin sent signs of life, but none for STREAM_SESSION_SILENCE_SECONDS)
    ends at its last sign of life, as ``close_silent_sessions`` would end it: it was dead from
    then on, and the minutes after it are not live. One that still speaks, or whose origin sends
    no periodic signs at all (nothing tells when it died), ends now."""
    with transaction.atomic():
        locked = StreamSession.objects.select_for_update().filter(pk=session.pk, ended_at__isnull=True).first()
        if locked is None:
            return False
        if _silent(locked) and locked.last_signal_at is not None:
            _close_session(locked, reason, at=max(locked.last_signal_at, locked.started_at))
        else:
            _close_session(locked, reason)
    session.refresh_from_db()
    log.info("session %s of %s ended: %s", session.pk, session.stream_id, reason)
    return True


def _close_session(session: StreamSession, reason: str, *, at: datetime | None = None) -> None:
    session.ended_at = at or timezone.now()
    session.end_reason = reason
    session.save(update_fields=["ended_at", "end_reason"])
    _after_close(session)


def _after_close(session: StreamSession) -> None:
    # Players cannot outlive the publish at the origin; their stop hooks may never come.
    StreamViewer.objects.filter(stream_id=session.stream_id, ended_at__isnull=True).update(ended_at=session.ended_at)
    transaction.on_commit(
        lambda: stream_went_offline.send(sender=Stream, stream=session.stream, session=session), robust=True
    )
    stream = session.stream
    live_updates.push(StreamState(slug=stream.slug, title=stream.title, live=False, since=None))
