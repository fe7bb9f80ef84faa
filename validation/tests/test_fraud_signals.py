"""Fraud signals beyond spot-checks: sybil hosts, bytes beyond viewers, gaps papered over."""

from __future__ import annotations

import pytest
from django.utils import timezone

from nodes.models import NodeMinute
from validation import fraud
from validation.models import FlagKind, FraudFlag

pytestmark = pytest.mark.django_db


def minute(node, **values):
    at = timezone.now().replace(second=0, microsecond=0)
    return NodeMinute.objects.create(node=node, minute=at, **values)


def test_several_nodes_behind_one_host_are_flagged_once(register):
    nodes = [register(f"n{i}", public_url=f"http://203.0.113.7:{8090 + i}")[0] for i in range(3)]
    register("elsewhere", public_url="http://198.51.100.1:8090")
    assert fraud.detect_sybils() == 3
    assert fraud.detect_sybils() == 0  # still open: not flagged again
    flagged = FraudFlag.objects.filter(kind=FlagKind.SYBIL)
    assert {f.node_id for f in flagged} == {n.pk for n in nodes}
    assert flagged[0].evidence["host"] == "203.0.113.7"


def test_bytes_no_viewer_could_have_drawn_are_flagged(register, settings):
    greedy, _ = register("greedy")
    honest, _ = register("honest")
    per_viewer = settings.FRAUD_MAX_BYTES_PER_VIEWER_MINUTE
    minute(greedy, bytes_served=per_viewer * 5, max_viewers=1, heartbeats=6)
    minute(honest, bytes_served=per_viewer, max_viewers=3, heartbeats=6)
    assert fraud.detect_bytes_beyond_viewers() == 1
    assert FraudFlag.objects.get().node == greedy


def test_a_burst_of_heartbeats_after_a_gap_is_flagged(register):
    bursty, _ = register("bursty")
    steady, _ = register("steady")
    minute(bursty, heartbeats=25)
    minute(steady, heartbeats=6)
    assert fraud.detect_gap_bursts() == 1
    assert FraudFlag.objects.get().evidence["peak_heartbeats_in_a_minute"] == 25


def test_a_resolved_flag_can_be_raised_again(register):
    for i in range(3):
        register(f"n{i}", public_url=f"http://203.0.113.9:{9000 + i}")
    fraud.detect_sybils()
    FraudFlag.objects.update(resolved=True)
    assert fraud.detect_all() == 3
