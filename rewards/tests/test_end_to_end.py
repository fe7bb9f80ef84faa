"""From heartbeats to money in a friend's PayPal: every step through the path production uses."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from nodes import services as node_services
from nodes.models import Node, NodeMinute
from rewards import services
from rewards.models import AuditEntry, PayoutBatch, PayoutStatus
from streams import services as stream_services
from streams.models import Origin, StreamSession
from streams.tests.hook_clients import srs_payload
from validation.models import Outcome, SpotCheck

pytestmark = pytest.mark.django_db


def test_heartbeats_become_a_settled_credit_then_an_approved_and_paid_payout(
    make_stream, post_srs, register, node_client, friend, admin_user, hour
):
    # The streamer goes live (through the origin's hook) at rate 12.00/hour; a friend's node relays.
    alice, key = make_stream("alice", reward_rate_per_hour=Decimal("12.00"))
    assert post_srs(srs_payload("on_publish", key=key)).json() == {"code": 0}
    node, api_key = register("den", user=friend)
    answer = node_client(api_key).beat(stream="alice", relay={"ffmpeg_running": True, "newest_segment_age": 2.0})
    assert answer.status_code == 200 and answer.json()["assignment"]["stream"] == "alice"

    # The heartbeat API stamps beats with the wall clock, so the closed hour settled below is
    # replayed through the same service with explicit times: 6 beats a minute for 45 minutes.
    StreamSession.objects.filter(stream=alice).update(started_at=hour - timedelta(minutes=5))
    node = Node.objects.select_related("assigned_stream").get(pk=node.pk)
    started = timezone.now()  # a later agent session than the one that beat over HTTP
    for beat in range(45 * 6):
        node_services.record_heartbeat(
            node,
            node_services.Heartbeat(
                seq=beat + 1,
                agent_session="replayed",
                session_started_at=started,
                bytes_served=beat * 500_000,
                segments_served=beat,
                http_requests=beat,
                viewers=2,
                ffmpeg_running=True,
                newest_segment_age=2.0,
                stream="alice",
            ),
            now=hour + timedelta(seconds=10 * beat),
        )
        node.refresh_from_db()
    for minute in range(60):  # the origin's on_hls hooks all hour, replayed likewise
        stream_services.record_signal(
            origin=Origin.SRS,
            slug="alice",
            client_id="341w361a",
            server_id="vid-0xk989d",
            now=hour + timedelta(minutes=minute, seconds=30),
        )
    assert NodeMinute.objects.filter(node=node, stream=alice, minute__lt=hour + timedelta(hours=1)).count() >= 45

    # The schedule settles the hour once the grace has passed: the stream was live all hour, 12.00.
    (settlement,) = [s for s in services.settle_due(now=hour + timedelta(hours=1, minutes=5)) if s.hour == hour]
    assert (settlement.pool, settlement.credited, settlement.nodes) == (Decimal("12.00"), Decimal("12.00"), 1)

    # A spot-check after the hour passes: the credit is verified, it vests (the 5-minute schedule).
    SpotCheck.objects.create(
        node=node, stream=alice, checked_at=hour + timedelta(hours=1, minutes=10), outcome=Outcome.PASS, latency_ms=5
    )
    assert services.vest_due() == 1

    # The friend sees the earnings and asks for 10.00 to PayPal through the API.
    friend_client = Client()
    friend_client.force_login(friend)
    earnings = friend_client.get("/api/v1/earnings?by=hour&days=1").json()
    assert earnings["balance"] == "12.00" and earnings["periods"][0]["minutes"] == 45
    friend_client.put("/api/v1/payouts/method", {"kind": "paypal", "address": "den@example.com"}, "application/json")
    made = friend_client.post("/api/v1/payouts", {"amount": "10.00"}, "application/json")
    assert made.status_code == 201
    payout_id = made.json()["id"]

    # The admin approves, exports the PayPal batch and marks it paid, all in the Django admin.
    admin = Client()
    admin.force_login(admin_user)
    changelist = "/admin/rewards/payoutrequest/"
    admin.post(changelist, {"action": "approve", "_selected_action": [payout_id]})
    csv_file = admin.post(changelist, {"action": "export_batch", "_selected_action": [payout_id]})
    (row,) = list(csv.reader(io.StringIO(csv_file.content.decode())))
    assert row[:4] == ["den@example.com", "10.00", "USD", f"payout-{payout_id}"]
    batch = PayoutBatch.objects.get()
    admin.post(
        "/admin/rewards/payoutbatch/",
        {"action": "mark_paid", "_selected_action": [batch.pk], "apply": "1", "text": "PAYPAL-BATCH-1"},
    )

    mine = friend_client.get("/api/v1/payouts").json()
    assert (mine["balance"], mine["available"]) == ("2.00", "2.00")
    assert (mine["payouts"][0]["status"], mine["payouts"][0]["external_reference"]) == (
        PayoutStatus.PAID,
        "PAYPAL-BATCH-1",
    )
    trail = AuditEntry.objects.filter(payout_id=payout_id).order_by("pk").values_list("action", "actor__username")
    assert list(trail) == [
        ("payout.requested", "friend"),
        ("payout.approved", "root"),
        ("payout.paid", "root"),
    ]
