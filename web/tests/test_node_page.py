"""A node's page (/me/nodes/<pk>): who may see it, the figures it shows against seeded buckets,
checks, viewer reports and credits, and its query count (independent of how many rows it reads)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from nodes.models import Node, NodeMinute
from validation.models import AttestedMinute, DeliveredSegment, SpotCheck
from web import node_history

pytestmark = pytest.mark.django_db

# Session, user and node (3), node_history's 7 grouped queries, and rewards' hourly "earning or why
# not" (~11-19, its own). Measured: 29 for 24 h, 23 for 7 d with a live stream.
SEEDED_QUERY_BOUND = 40
HISTORY_QUERIES = 7


@pytest.fixture
def den(earned, hour):
    """rewards' 'den' (60 healthy minutes claiming 1 MB each in the closed hour, 6.00 credited),
    registered a week ago, plus what viewers attested and what the checker found in that hour."""
    Node.objects.filter(pk=earned.pk).update(created_at=timezone.now() - timedelta(days=8))
    stream_id = NodeMinute.objects.filter(node=earned).values_list("stream_id", flat=True).first()
    NodeMinute.objects.filter(node=earned, minute__lt=hour + timedelta(minutes=10)).update(max_viewers=3)
    AttestedMinute.objects.bulk_create(
        AttestedMinute(node=earned, stream_id=stream_id, minute=hour + timedelta(minutes=m), bytes=1_500_000)
        for m in range(30)
    )
    for ticket, minute in [("t1", 1), ("t1", 2), ("t2", 3), ("t1", 65)]:  # t1 again in the next hour
        DeliveredSegment.objects.create(
            ticket=ticket,
            node=earned,
            stream_id=stream_id,
            url=f"http://den.example:8090/hls/alice/{ticket}-{minute}.ts",
            size=1000,
            sha256="0" * 64,
            reported_at=hour + timedelta(minutes=minute),
        )
    for minute, outcome, latency, provisional in [
        (5, "pass", 100, False),
        (20, "pass", 300, False),
        (35, "mismatch", 200, False),
        (50, "unreachable", 5000, True),
    ]:
        SpotCheck.objects.create(
            node=earned,
            stream_id=stream_id,
            checked_at=hour + timedelta(minutes=minute),
            outcome=outcome,
            latency_ms=latency,
            provisional=provisional,
        )
    earned.refresh_from_db()
    return earned


def test_the_history_matches_the_seeded_buckets_checks_and_credits(den, hour, django_assert_num_queries):
    with django_assert_num_queries(HISTORY_QUERIES):
        found = node_history.history(den, node_history.WINDOWS["24h"])
    assert len(found.periods) == 24
    period = next(p for p in found.periods if p.start == hour)
    assert (period.online_minutes, period.healthy_minutes, period.uptime_percent) == (60, 60, 100.0)
    assert (period.claimed_bytes, period.claimed_viewers) == (60_000_000, 3)
    assert (period.attested_bytes, period.attested_minutes) == (45_000_000, 30)
    assert period.viewers == 2  # t1 and t2
    assert (period.checks, period.passed, period.failed, period.unconfirmed) == (4, 2, 1, 1)
    assert period.latency_avg_ms == 1400 and period.latency_max_ms == 5000
    assert period.earned == Decimal("6.00")
    following = next(p for p in found.periods if p.start == hour + timedelta(hours=1))
    assert following.viewers == 1 and following.earned == Decimal("0.00") and following.online_minutes == 0
    totals = found.totals
    assert totals["viewers"] == 2  # t1 watched in two hours: one viewer
    assert totals["earned"] == Decimal("6.00") and totals["attested_bytes"] == 45_000_000
    assert [check.outcome for check in found.recent_checks] == ["unreachable", "mismatch", "pass", "pass"]


def test_the_week_sums_the_same_figures_per_day(den, hour):
    found = node_history.history(den, node_history.WINDOWS["7d"])
    assert len(found.periods) == 7 and found.periods[-1].start.hour == 0
    day = next(p for p in found.periods if p.start == hour.replace(hour=0))
    assert day.online_minutes == 60 and day.earned == Decimal("6.00") and day.checks == 4
    assert found.totals["earned"] == Decimal("6.00") and found.totals["claimed_bytes"] == 60_000_000


def test_a_clawed_back_credit_counts_against_the_hour_it_paid_for(den, hour):
    from rewards.models import EntryKind, LedgerEntry

    credit = LedgerEntry.objects.get(node=den, kind=EntryKind.CREDIT)
    LedgerEntry.objects.create(
        user=den.owner, kind=EntryKind.CLAWBACK, amount=-credit.amount, node=den, reverses=credit, memo="test"
    )
    found = node_history.history(den, node_history.WINDOWS["24h"])
    assert next(p for p in found.periods if p.start == hour).earned == Decimal("0.00")


def test_the_owner_sees_the_figures_on_the_page(client, friend, den, hour):
    client.force_login(friend)
    page = client.get(f"/me/nodes/{den.pk}").content.decode()
    assert 'data-total="earned">6.00 USD<' in page
    assert 'data-total="viewers">2<' in page
    assert 'data-total="attested-bytes">45 MB<' in page and "node says 60 MB" in page
    assert 'data-total="checks">2 / 4 passed<' in page and "1 failed, 1 unconfirmed" in page
    assert "latency 1.4 s on average" in page
    row = page.split(f'data-period="{hour.isoformat()}"')[1].split("</tr>")[0]
    assert "100.0 %" in row and "45 MB" in row and "60 MB, 3 viewers" in row and "6.00" in row
    assert "1 mismatch, 2 pass, 1 unreachable" in row and "1.4 s (max 5 s)" in row
    assert page.count('<svg class="chart"') == 5 and 'aria-label="Earnings by hour"' in page
    assert f"{hour:%H}:00: 6.00 USD" in page  # the earnings bar's tooltip
    assert '<table class="cards-on-phone"' in page and 'data-label="Uptime"' in page


def test_the_page_shows_each_hours_earning_or_why_not(client, friend, den, hour):
    client.force_login(friend)
    page = client.get(f"/me/nodes/{den.pk}").content.decode()
    section = page.split('data-section="earning"')[1].split("</table>")[0]
    settled = section.split(f'data-hour="{hour.isoformat()}"')[1].split("</tr>")[0]
    assert "6.00" in settled and "earning" in settled
    assert section.count("<tr data-hour=") == 24  # 24 hours, newest first, the open hour included


def test_the_week_switch_shows_days(client, friend, den):
    client.force_login(friend)
    page = client.get(f"/me/nodes/{den.pk}?window=7d").content.decode()
    assert 'aria-current="page">last 7 days<' in page and 'aria-label="Earnings by day"' in page
    assert page.split('data-section="periods"')[1].count("<tr data-period=") == 7
    assert 'data-total="earned">6.00 USD<' in page


@pytest.mark.parametrize(
    ("who", "expected"),
    [("owner", 200), ("other_friend", 404), ("outsider", 404), ("staff", 200), ("anonymous", 302)],
)
def test_only_the_owner_and_staff_see_a_nodes_page(client, register, friend, outsider, admin_user, who, expected):
    node, _ = register("den", user=friend)
    register("elsewhere", user=outsider)  # a friend with nodes of their own
    someone = {"owner": friend, "other_friend": outsider, "staff": admin_user}
    if who == "outsider":
        from django.contrib.auth.models import User

        someone[who] = User.objects.create_user("nobody", "nobody@example.com", "nobody-pass-123")
    if who in someone:
        client.force_login(someone[who])
    response = client.get(f"/me/nodes/{node.pk}")
    assert response.status_code == expected
    if expected == 302:
        assert response["Location"].startswith("/accounts/login/")
    if expected == 404:
        assert "den" not in response.content.decode()


def test_an_unknown_node_is_a_404_for_staff_too(client, admin_user):
    client.force_login(admin_user)
    assert client.get("/me/nodes/999999").status_code == 404


def test_a_new_node_has_an_empty_page(client, friend, register):
    node, _ = register("fresh", user=friend)
    client.force_login(friend)
    page = client.get(f"/me/nodes/{node.pk}").content.decode()
    assert "Not spot-checked yet" in page and 'data-total="earned">0.00 USD<' in page


def test_the_page_costs_the_same_bounded_queries_for_a_full_week_of_buckets(
    client, friend, den, django_assert_num_queries, django_assert_max_num_queries
):
    # A week of minute buckets (10,080 rows, as a node heartbeating all week writes) adds no query:
    # node_history groups them in the database.
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(days=7)
    taken = set(NodeMinute.objects.filter(node=den).values_list("minute", flat=True))
    NodeMinute.objects.bulk_create(
        (
            NodeMinute(node=den, minute=start + timedelta(minutes=m), heartbeats=6, healthy_heartbeats=6)
            for m in range(7 * 24 * 60)
            if start + timedelta(minutes=m) not in taken
        ),
        batch_size=2000,
    )
    for window in node_history.WINDOWS.values():
        with django_assert_num_queries(HISTORY_QUERIES):
            found = node_history.history(den, window)
        assert found.totals["uptime"] > 0.99
    client.force_login(friend)
    for window in node_history.WINDOWS:
        with django_assert_max_num_queries(SEEDED_QUERY_BOUND):
            assert client.get(f"/me/nodes/{den.pk}?window={window}").status_code == 200
