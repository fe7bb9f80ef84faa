"""Rewards fixtures (for the money pages too): money on a friend's balance, a payout method, and staff
to decide payouts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from nodes.models import Node
from rewards import services
from rewards.models import LedgerEntry
from rewards.tests.helpers import origin_alive, relayed
from streams import services as stream_services
from streams.models import Origin, OriginMinute, Stream, StreamSession

HOUR = timedelta(hours=1)


@pytest.fixture
def hour() -> datetime:
    """The start of a closed hour (two hours ago)."""
    return services.hour_start(timezone.now()) - 2 * HOUR


@pytest.fixture
def live_alice(make_stream: Callable[..., tuple[Stream, str]], hour: datetime) -> Callable[..., Stream]:
    """'alice' (rate 6.00/hour) live from 10 minutes before the hour until 30 minutes into it (or
    on), its origin alive all that time (``alive=False``: the origin went silent at once)."""

    def go(until: timedelta | None = timedelta(minutes=30), *, alive: bool = True) -> Stream:
        stream, key = make_stream("alice", reward_rate_per_hour=Decimal("6.00"))
        stream_services.admit_publish(
            stream_services.PublishRequest(origin=Origin.SRS, app="live", slug="alice", key=key, client_id="c")
        )
        started = hour - timedelta(minutes=10)
        StreamSession.objects.update(started_at=started, ended_at=hour + until if until is not None else None)
        OriginMinute.objects.all().delete()  # the publish just now is not in that hour
        if alive:
            last = hour + (until if until is not None else HOUR)
            minutes = int((last - started).total_seconds() // 60)
            OriginMinute.objects.bulk_create(
                OriginMinute(stream=stream, minute=started + timedelta(minutes=m)) for m in range(minutes)
            )
        return stream

    return go


@pytest.fixture
def second_admin(django_user_model: type[User]) -> User:
    """Another superuser: the second pair of eyes on large corrections and payouts."""
    return django_user_model.objects.create_superuser("root2", "root2@example.com", "root2-pass-123")


@pytest.fixture
def give(admin_user: User, second_admin: User) -> Callable[[User, str], LedgerEntry]:
    """Put money on a user's balance as admins do besides settlement: a correction 'root' proposes
    and 'root2' confirms (four eyes, so any amount, and root's own limit stays untouched)."""

    def go(user: User, amount: str) -> LedgerEntry:
        proposal = services.propose_correction(user.pk, Decimal(amount), actor=admin_user, memo="test credit")
        return services.confirm_correction(proposal, actor=second_admin)

    return go


@pytest.fixture
def paypal_friend(friend: User, give: Callable[[User, str], LedgerEntry]) -> User:
    """The friend with 100.00 owed and a PayPal address set."""
    give(friend, "100.00")
    services.set_payout_method(friend, kind="paypal", address="friend@example.com")
    return friend


@pytest.fixture
def viewer_staff(django_user_model: type[User]) -> User:
    """Staff who may look at payouts but not decide them."""
    user = django_user_model.objects.create_user("viewer", "viewer@example.com", "viewer-pass-123", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__startswith="view_", content_type__app_label="rewards")
    )
    return user


@pytest.fixture
def earned(live_alice: Callable[..., Stream], register: Any, hour: datetime, friend: User) -> Node:
    """6.00 credited to the friend's node 'den' for the settled hour (nothing vested yet)."""
    alice = live_alice(until=None)
    node, _ = register("den", user=friend)
    relayed(node, alice, hour, range(60))
    services.settle_hour(hour)
    return node


@pytest.fixture
def live_this_hour(make_stream: Callable[..., tuple[Stream, str]]) -> Callable[..., Stream]:
    """live_this_hour(slug, rate): the stream goes live, its session backdated to the start of the
    current hour and the origin alive in every minute so far, so the open hour already has a pool
    however early in a minute the test runs (a session begun in a minute's last second has ~0 s
    live, and an estimate of 0.00 is then right)."""

    def go_live(slug: str = "live", rate: str = "12.00") -> Stream:
        stream, key = make_stream(slug, reward_rate_per_hour=Decimal(rate))
        stream_services.admit_publish(
            stream_services.PublishRequest(origin=Origin.SRS, app="live", slug=slug, key=key, client_id="c")
        )
        now = timezone.now()
        start = services.hour_start(now)
        StreamSession.objects.filter(stream=stream).update(started_at=start)
        origin_alive(stream, start, range(int((now - start).total_seconds() // 60) + 1))
        return stream

    return go_live
