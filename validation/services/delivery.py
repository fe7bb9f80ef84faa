"""Viewer-attested delivery: playback tickets, and viewers' reports of the segments they loaded.

The playback API gives each viewer a ticket: signed with the site's secret, naming the node it
plays from (or the origin), the stream, the live session and a random id, valid for
PLAYBACK_TICKET_SECONDS and renewed by the reports themselves; one address gets at most
PLAYBACK_TICKETS_PER_ADDRESS_MINUTE a minute (beyond, playback still works, uncounted). The watch
page reports every ~10 s the segments it loaded (URL, size, SHA-256 of the bytes). A report counts only
- with a valid, unexpired ticket whose live session is still live;
- for segments of that stream on the ticket's node, each once per ticket (a replayed report
  adds nothing);
- at most one report per ticket every PLAYBACK_REPORT_MIN_SECONDS, MAX_SEGMENTS_PER_REPORT
  segments a report, and at most what one viewer can draw in a minute
  (FRAUD_MAX_BYTES_PER_VIEWER_MINUTE) per ticket and minute.
Accepted segments add to the node's AttestedMinute. Settlement pays delivery from these, never
from the node's own counters (and never more than the node itself claimed). A report that names a
newer segment than the ticket's last one counts its viewer as watching (streams.Watcher): every
viewer count the site shows counts those, origin viewers included.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, F, Sum
from django.db.models.functions import Greatest
from django.utils import timezone

from core import outages, throttle
from core.errors import ServiceError
from nodes.models import Node
from streams import services as stream_services
from streams.models import StreamSession
from validation.models import AttestedMinute, DeliveredSegment

log = logging.getLogger(__name__)

SALT = "streamrp2p.playback-ticket"
KEEP_DELIVERIES = timedelta(days=1)
MAX_SEGMENTS_PER_REPORT = 30
MAX_SEGMENT_BYTES = 32 * 1024 * 1024
SEGMENT_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}\.ts")  # what agents serve (see the agent's server)
SHA256 = re.compile(r"^[0-9a-f]{64}$")
ORIGIN = 0  # a ticket's node id when its viewer plays from the origin


class DeliveryError(ServiceError):
    """A refused ticket or report."""


@dataclass(frozen=True)
class Ticket:
    id: str
    node_id: int
    stream_id: int
    session_id: int
    issued_at: int  # unix seconds
    viewer: str = ""  # the client's address key (see client_key), signed into the ticket


@dataclass(frozen=True)
class SegmentReport:
    url: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ReportResult:
    accepted: int
    bytes: int
    ticket: str  # the same ticket, or a fresh one once half its life has passed


def _sign(ticket: Ticket) -> str:
    body = {
        "t": ticket.id,
        "n": ticket.node_id,
        "s": ticket.stream_id,
        "ss": ticket.session_id,
        "at": ticket.issued_at,
        "v": ticket.viewer,
    }
    return signing.dumps(body, salt=SALT, compress=False)


def client_key(address: str) -> str:
    """What one client is, for the per-address limits (core.throttle.address_key). The web tier
    must be given the client's address by a proxy that overwrites X-Forwarded-For (README)."""
    return throttle.address_key(address) or "unknown"  # e.g. a unix socket: all such share one budget


def issue_ticket(node: Node | None, session: StreamSession, *, address: str = "") -> str | None:
    """A ticket for a viewer of ``session`` playing from ``node`` (None: the origin); None when the
    client has had its PLAYBACK_TICKETS_PER_ADDRESS_MINUTE (a script minting tickets to inflate
    counts gets no more; a household or campus behind one address rarely comes close), or when the
    cache that counts them fails: the video plays all the same, uncounted."""
    viewer = client_key(address)
    key = f"playback-tickets:{viewer}:{int(time.time() // 60)}"
    try:
        cache.add(key, 0, timeout=120)
        minted = cache.incr(key)
    except Exception:  # Redis down or the key evicted: never let counting stop playback
        log.warning("playback tickets not counted for %s: the cache failed", viewer, exc_info=True)
        return None
    if minted > settings.PLAYBACK_TICKETS_PER_ADDRESS_MINUTE:
        return None
    node_id = node.pk if node is not None else ORIGIN
    return _sign(Ticket(secrets.token_hex(8), node_id, session.stream_id, session.pk, int(time.time()), viewer))


def read_ticket(value: str) -> Ticket:
    try:
        body = signing.loads(value, salt=SALT, max_age=settings.PLAYBACK_TICKET_SECONDS)
    except signing.SignatureExpired:
        raise DeliveryError("ticket_expired", "The playback ticket has expired; ask for playback again.", 401) from None
    except signing.BadSignature:
        raise DeliveryError("bad_ticket", "This is not a playback ticket of this site.", 401) from None
    try:
        return Ticket(
            str(body["t"]), int(body["n"]), int(body["s"]), int(body["ss"]), int(body["at"]), str(body.get("v", ""))
        )
    except (KeyError, TypeError, ValueError):
        raise DeliveryError("bad_ticket", "This is not a playback ticket of this site.", 401) from None


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _report_allowed(ticket: Ticket) -> bool:
    """One report per ticket every PLAYBACK_REPORT_MIN_SECONDS, counted in the cache. With Redis
    down the report is taken all the same (fail open): each segment is still counted at most once
    per ticket by the database, so the limit only saves work."""
    if not outages.CACHE.closed():
        outages.CACHE.skipped("report_limiter")
        return True
    try:
        allowed = bool(cache.add(f"delivery-report:{ticket.id}", 1, timeout=settings.PLAYBACK_REPORT_MIN_SECONDS))
    except Exception as exc:  # whatever the cache raises (ConnectionError, TimeoutError)
        outages.CACHE.failed(exc, "report_limiter")
        return True
    outages.CACHE.succeeded()
    return allowed


def report_segments(value: str, segments: list[SegmentReport], *, now: datetime | None = None) -> ReportResult:
    """Count the segments a viewer loaded from its ticket's node (see the module's rules)."""
    ticket = read_ticket(value)
    node = Node.objects.filter(pk=ticket.node_id).first() if ticket.node_id != ORIGIN else None
    session = StreamSession.objects.select_related("stream").filter(pk=ticket.session_id).first()
    if (node is None and ticket.node_id != ORIGIN) or session is None or session.stream_id != ticket.stream_id:
        raise DeliveryError("bad_ticket", "The ticket's node or session no longer exists.", 401)
    if session.ended_at is not None:
        raise DeliveryError("session_ended", "The live session this ticket was for has ended.", 409)
    if len(segments) > MAX_SEGMENTS_PER_REPORT:
        raise DeliveryError("too_many_segments", f"At most {MAX_SEGMENTS_PER_REPORT} segments a report.", 400)
    if not _report_allowed(ticket):
        raise DeliveryError("rate_limited", "One report per ticket every few seconds.", 429)
    now = now or timezone.now()
    if node is None:
        return _report_origin(ticket, value, session, segments, now)
    prefix = f"{node.public_url.rstrip('/')}/hls/{session.stream.slug}/"
    wanted: dict[str, SegmentReport] = {}
    for segment in segments:
        if _well_formed(segment, prefix):
            wanted.setdefault(segment.url, segment)
    accepted: list[DeliveredSegment] = []
    minute = _minute(now)
    with transaction.atomic():
        seen = set(DeliveredSegment.objects.filter(ticket=ticket.id, url__in=wanted).values_list("url", flat=True))
        used = (
            DeliveredSegment.objects.filter(ticket=ticket.id, reported_at__gte=minute).aggregate(n=Sum("size"))["n"]
            or 0
        )
        budget = settings.FRAUD_MAX_BYTES_PER_VIEWER_MINUTE - used
        for url, segment in wanted.items():
            if url in seen or segment.size > budget:
                continue
            budget -= segment.size
            accepted.append(
                DeliveredSegment(
                    ticket=ticket.id,
                    node=node,
                    stream_id=ticket.stream_id,
                    url=url,
                    size=segment.size,
                    sha256=segment.sha256,
                    reported_at=now,
                )
            )
        DeliveredSegment.objects.bulk_create(accepted, ignore_conflicts=True)
        # Count what this report inserted (a concurrent report of the same ticket may have won some
        # of these segments): its rows carry this report's own timestamp.
        accepted = list(DeliveredSegment.objects.filter(ticket=ticket.id, url__in=wanted, reported_at=now))
        total = sum(segment.size for segment in accepted)
        if accepted:
            bucket, _ = AttestedMinute.objects.get_or_create(node=node, stream_id=ticket.stream_id, minute=minute)
            AttestedMinute.objects.filter(pk=bucket.pk).update(
                bytes=F("bytes") + total, segments=F("segments") + len(accepted)
            )
            inserted = {segment.url for segment in accepted}
            newest = [url for url in wanted if url in inserted][-1]
            stream_services.watcher_reported(session, ticket.id, newest, viewer=ticket.viewer, now=now)
    return ReportResult(len(accepted), total, _renew(ticket, value))


def _report_origin(
    ticket: Ticket, value: str, session: StreamSession, segments: list[SegmentReport], now: datetime
) -> ReportResult:
    """A viewer of the origin: nobody is paid for its bytes, but it counts as watching while its
    reports name ever newer segments of the origin's playlist."""
    prefix = session.stream.origin_hls_url().rsplit("/", 1)[0] + "/"
    # query: SRS's segment URLs carry ?hls_ctx=
    valid = [segment.url for segment in segments if _well_formed(segment, prefix, query=True)]
    counted = bool(valid) and stream_services.watcher_reported(
        session, ticket.id, valid[-1], viewer=ticket.viewer, now=now
    )
    return ReportResult(len(valid) if counted else 0, 0, _renew(ticket, value))


def _well_formed(segment: SegmentReport, prefix: str, *, query: bool = False) -> bool:
    """A segment under ``prefix`` named as HLS segments are (a query string after the name only
    where ``query``), of a possible size, with a SHA-256."""
    if not segment.url.startswith(prefix):
        return False
    name = segment.url[len(prefix) :]
    if query:
        name = name.split("?", 1)[0]
    return (
        bool(SEGMENT_NAME.fullmatch(name))
        and 0 < segment.size <= MAX_SEGMENT_BYTES
        and bool(SHA256.match(segment.sha256))
    )


def _renew(ticket: Ticket, value: str) -> str:
    """The same ticket, or a fresh one once half its life has passed."""
    if time.time() - ticket.issued_at <= settings.PLAYBACK_TICKET_SECONDS / 2:
        return value
    return _sign(
        Ticket(ticket.id, ticket.node_id, ticket.stream_id, ticket.session_id, int(time.time()), ticket.viewer)
    )


def watching(node_ids: list[int], *, now: datetime | None = None) -> dict[int, int]:
    """Viewers per node now: tickets that reported segments from it as lately as a watcher counts
    (streams' WATCHER_PRESENT: the same 30 s as the streams' viewer counts)."""
    since = (now or timezone.now()) - stream_services.WATCHER_PRESENT
    rows = (
        DeliveredSegment.objects.filter(node_id__in=node_ids, reported_at__gte=since)
        .values("node_id")
        .annotate(n=Count("ticket", distinct=True))
    )
    return {row["node_id"]: row["n"] for row in rows}


def correct_sizes(node: Node, fetched: dict[str, tuple[str, int]]) -> int:
    """The checker fetched these segments (URL -> SHA-256, size) from the node: a report of the same
    bytes that claimed more of them is forged (a browser reports the size of what it hashed), so
    its excess leaves the node's attested bytes. Returns the bytes taken back."""
    taken = 0
    with transaction.atomic():
        for url, (sha256, size) in fetched.items():
            oversized = DeliveredSegment.objects.select_for_update().filter(
                node=node, url=url, sha256=sha256, size__gt=size
            )
            for row in oversized:
                excess = row.size - size
                minute = _minute(row.reported_at)
                bucket = AttestedMinute.objects.filter(node=node, stream_id=row.stream_id, minute=minute)
                bucket.update(bytes=Greatest(F("bytes") - excess, 0))
                taken += excess
            oversized.update(size=size)
    return taken


def attested_bytes(stream_id: int, start: datetime, end: datetime) -> dict[tuple[int, datetime], int]:
    """Viewer-attested bytes per (node, minute) of a stream in [start, end)."""
    rows = AttestedMinute.objects.filter(stream_id=stream_id, minute__gte=start, minute__lt=end)
    return {(node_id, minute): sent for node_id, minute, sent in rows.values_list("node_id", "minute", "bytes")}


def prune_deliveries(*, now: datetime | None = None) -> int:
    """Drop per-segment reports older than a day: audits read the last minutes, settlement reads
    the per-minute sums (AttestedMinute), which stay."""
    cutoff = (now or timezone.now()) - KEEP_DELIVERIES
    deleted, _ = DeliveredSegment.objects.filter(reported_at__lt=cutoff).delete()
    return deleted
