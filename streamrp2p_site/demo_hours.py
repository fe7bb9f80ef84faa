"""The demo's fast hours: settlement pays closed hours only, and nobody watches a demo for an hour.

While the demo runs, every ``DEMO_HOUR_SECONDS`` it closes a "demo hour": the minutes relayed since
the last one (node minute buckets, the origin's alive minutes, viewer-attested minutes of this real
hour) move, whole, into an empty hour of its throw-away database's past, with a closed copy of the
live session covering that hour, and the same settlement service the hourly job uses settles it.
Vesting and a payout request follow as they would later on, so earnings, payouts and the
leaderboard fill while a visitor looks. Nothing is paid twice: the moved minutes are no longer in
the present hour, which the hourly job settles on its own once it ends. The live session, the
nodes' liveness and the spot-checks stay in the present, so the live pages keep telling the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from nodes.models import NodeMinute
from rewards import services as reward_services
from rewards.models import PayoutRequest, Settlement
from streams.models import OriginMinute, Stream, StreamSession
from validation.models import AttestedMinute

HOUR = timedelta(hours=1)
SLOTS = 20  # past hours to fill, newest first (the hour before this one, then back): inside "today"
# and every 24 h view as far as possible; past them the hourly job settles the real hours as usual


@dataclass
class DemoHours:
    stream: Stream
    friend: User
    used: int = 0
    settled: list[Settlement] = field(default_factory=list)
    payout: PayoutRequest | None = None

    def close_one(self) -> Settlement | None:
        """Move this real hour's minutes so far into the next free past hour and settle it; None
        when there was nothing to move (or no slot left)."""
        present = reward_services.hour_start(timezone.now())
        slot = self._free_slot(present)
        if slot is None:
            return None
        sessions = StreamSession.objects.filter(stream=self.stream).exclude(end_reason="demo-hour")
        session = sessions.order_by("-started_at").first()
        if session is None or not NodeMinute.objects.filter(stream=self.stream, minute__gte=present).exists():
            return None
        shift = present - slot
        with transaction.atomic():
            NodeMinute.objects.filter(stream=self.stream, minute__gte=present).update(minute=F("minute") - shift)
            OriginMinute.objects.filter(stream=self.stream, minute__gte=present).update(minute=F("minute") - shift)
            AttestedMinute.objects.filter(stream=self.stream, minute__gte=present).update(minute=F("minute") - shift)
            StreamSession.objects.create(
                stream=self.stream,
                origin=session.origin,
                client_id=f"{session.client_id}-demo-hour-{self.used + 1}",
                server_id=session.server_id,
                publisher_ip=session.publisher_ip,
                started_at=slot,
                ended_at=slot + HOUR,
                end_reason="demo-hour",
            )
        self.used += 1
        reward_services.settle_stream_hour(self.stream, slot)
        settlement = Settlement.objects.filter(stream=self.stream, hour=slot).first()  # the job may have won
        if settlement is not None:
            self.settled.append(settlement)
        self._vest_and_request_payout()
        return settlement

    def _free_slot(self, present: datetime) -> datetime | None:
        """The newest past hour with nothing of this stream in it: no session (the real one may
        have begun in an earlier hour), no minute bucket, no settlement."""
        for back in range(1, SLOTS + 1):
            slot = present - back * HOUR
            sessions = StreamSession.objects.filter(stream=self.stream, started_at__lt=slot + HOUR)
            if (
                sessions.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=slot)).exists()
                or NodeMinute.objects.filter(stream=self.stream, minute__gte=slot, minute__lt=slot + HOUR).exists()
                or Settlement.objects.filter(stream=self.stream, hour=slot).exists()
            ):
                continue
            return slot
        return None

    def _vest_and_request_payout(self) -> None:
        """The spot-checks since stand for the "later check" that vests a closed hour's credits."""
        reward_services.vest_due()
        if self.payout is not None:
            return
        available = reward_services.available(self.friend.pk)
        if available >= settings.PAYOUT_MINIMUM:
            self.payout = reward_services.request_payout(self.friend, available.quantize(Decimal("0.01")))
