"""The open hour's estimate is settlement's own split of the data so far: settling that hour with
the same data credits exactly the estimate, node by node, and the parts add up to the whole."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db.models import Sum
from django.utils import timezone

from nodes.models import Node
from rewards import services
from rewards.models import LedgerEntry
from rewards.services import estimate
from rewards.tests.helpers import attested, relayed
from validation.models import Outcome, SpotCheck

pytestmark = pytest.mark.django_db


def test_settling_the_hour_credits_exactly_what_the_estimate_said_at_its_end(
    live_alice, register, hour, friend, outsider, settings
):
    settings.SETTLEMENT_MINUTES_WEIGHT = Decimal("0.6")
    alice = live_alice(until=None)
    mine = [register(f"mine{n}")[0] for n in range(3)]
    theirs, _ = register("theirs", user=outsider)
    twin, _ = register("twin", user=outsider, public_url="http://mine0.example:8090")  # one machine with mine0
    cheat, _ = register("cheat", user=outsider)
    Node.objects.update(created_at=hour - timedelta(days=1))
    for n, node in enumerate([*mine, theirs, twin, cheat]):
        relayed(node, alice, hour, range(n, 50 - n), bytes_per_minute=1_000_000 * (n + 1))
    attested(mine[1], alice, hour, range(5, 40), bytes_per_minute=700_000)
    attested(theirs, alice, hour, range(3, 47), bytes_per_minute=2_000_000)
    SpotCheck.objects.create(node=cheat, checked_at=hour + timedelta(minutes=30), outcome=Outcome.STALE, latency_ms=4)

    at_its_end = hour + timedelta(minutes=59, seconds=59)  # the clock moved back into the hour
    mine_now = estimate.open_hour(friend, now=at_its_end, cached=False)
    theirs_now = estimate.open_hour(outsider, now=at_its_end, cached=False)
    assert mine_now.hour == theirs_now.hour == hour
    assert mine_now.estimate == sum(mine_now.nodes.values()) > 0  # the parts add up to the whole
    assert set(mine_now.nodes) == {node.pk for node in mine} and set(theirs_now.nodes) == {theirs.pk, twin.pk, cheat.pk}
    assert theirs_now.nodes[cheat.pk] < theirs_now.nodes[theirs.pk]  # half an hour voided by its failed check

    (settlement,) = services.settle_hour(hour)
    credits = dict(LedgerEntry.objects.values("node_id").annotate(total=Sum("amount")).values_list("node_id", "total"))
    estimated = {**mine_now.nodes, **theirs_now.nodes}
    assert {k: v for k, v in estimated.items() if v} == credits
    assert sum(estimated.values()) == settlement.pool == settlement.credited  # the whole pool, to the cent


def test_is_cached_for_a_few_seconds_and_moves_once_the_cache_expires(live_alice, register, hour, friend, outsider):
    alice = live_alice(until=None)
    node, _ = register("den")
    other, _ = register("other", user=outsider)
    relayed(other, alice, hour, range(20))
    relayed(node, alice, hour, range(10))
    moment = hour + timedelta(minutes=10)
    first = estimate.open_hour(friend, now=moment)
    relayed(node, alice, hour, range(10, 20))
    assert estimate.open_hour(friend, now=moment) == first  # read from the cache: no second split
    cache.clear()
    assert estimate.open_hour(friend, now=moment).estimate > first.estimate


def test_the_earnings_api_answers_the_open_hour_as_decimal_strings(
    client, friend: User, register, node_client, live_this_hour
):
    live_this_hour("live")
    start = services.hour_start(timezone.now())
    node, api_key = register("den")
    agent = node_client(api_key)
    for _ in range(2):  # the first beat gets the assignment; the second is counted for it
        agent.beat(stream="live", relay={"ffmpeg_running": True, "newest_segment_age": 1.0})
    cache.clear()
    client.force_login(friend)
    body = client.get("/api/v1/earnings").json()
    open_hour = body["open_hour"]
    assert open_hour["hour"].startswith(start.strftime("%Y-%m-%dT%H:00"))
    assert isinstance(open_hour["estimate"], str) and Decimal(open_hour["estimate"]) > 0
    assert open_hour["nodes"] == {str(node.pk): open_hour["estimate"]}
    me = client.get("/api/v1/nodes/me", HTTP_AUTHORIZATION=f"Bearer {api_key}").json()
    assert me["earning"]["ok"] is True and "Earning: relaying live" in me["earning"]["why"]
