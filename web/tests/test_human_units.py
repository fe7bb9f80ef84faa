"""Numbers in human units: core.units' formatters, their template filters, and the admin pages that
used to show raw numbers (``Newest segment age: 0.06669330596923828``, bytes without units)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import timezone

from core import units
from nodes.models import Node, NodeMinute
from validation.models import SpotCheck


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0, "0 B"), (999, "999 B"), (1000, "1 kB"), (1_234_567, "1.2 MB"), (45_000_000, "45 MB"), (123_456_789, "123 MB"),
     (999_999, "1 MB"), (3_450_000_000, "3.5 GB"), (-2_000, "-2 kB"), (None, "-")],
)  # fmt: skip
def test_bytes_read_with_a_unit(value, shown):
    assert units.data_size(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.06669330596923828, "0.07 s"), (2.5, "2.5 s"), (12.34, "12.3 s"), (0, "0 s"), (59.9, "59.9 s"),
     (125, "2 min 5 s"), (None, "-")],
)  # fmt: skip
def test_short_spans_read_in_seconds(value, shown):
    assert units.seconds(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0, "0 s"), (45, "45 s"), (200, "3 min 20 s"), (3600, "1 h"), (7261, "2 h 1 min"), (90_061, "1 d 1 h"),
     (Decimal("60"), "1 min"), (-30, "-30 s")],
)  # fmt: skip
def test_durations_read_in_two_units_at_most(value, shown):
    assert units.duration(value) == shown


@pytest.mark.parametrize(("value", "shown"), [(850, "850 ms"), (999.6, "1 s"), (1234, "1.23 s"), (0, "0 ms")])
def test_latencies_read_in_milliseconds_then_seconds(value, shown):
    assert units.milliseconds(value) == shown


def test_shares_read_as_percent():
    assert (units.percent(0.74), units.percent(1), units.percent(0.5, 1), units.percent(None)) == (
        "74 %",
        "100 %",
        "50 %",
        "-",
    )


def test_the_template_filters_format_the_same():
    template = Template(
        "{% load units %}{{ b|data_size }} | {{ s|seconds }} | {{ ms|milliseconds }} | {{ d|duration }}"
    )
    shown = template.render(Context({"b": 1_200_000, "s": 0.0667, "ms": 120, "d": 200}))
    assert shown == "1.2 MB | 0.07 s | 120 ms | 3 min 20 s"


@pytest.mark.django_db
def test_the_node_admin_shows_segment_age_and_bytes_in_units(client, admin_user, register):
    node, _ = register("den")
    Node.objects.filter(pk=node.pk).update(newest_segment_age=0.06669330596923828, bytes_served_total=1_234_567)
    client.force_login(admin_user)
    page = client.get(f"/admin/nodes/node/{node.pk}/change/").content.decode()
    assert "0.07 s" in page and "0.0666933" not in page
    assert "1.2 MB" in page and "1234567" not in page


@pytest.mark.django_db
def test_the_bucket_and_check_lists_show_units_and_still_sort(client, admin_user, register):
    node, _ = register("den")
    now = timezone.now()
    NodeMinute.objects.create(
        node=node, minute=now.replace(second=0, microsecond=0), heartbeats=6, bytes_served=2_500_000
    )
    SpotCheck.objects.create(node=node, checked_at=now, outcome="pass", latency_ms=1234, overlap=0.875)
    SpotCheck.objects.create(node=node, checked_at=now - timedelta(minutes=5), outcome="pass", latency_ms=80)
    client.force_login(admin_user)
    assert "2.5 MB" in client.get("/admin/nodes/nodeminute/").content.decode()
    checks = client.get("/admin/validation/spotcheck/").content.decode()
    assert "1.23 s" in checks and "80 ms" in checks and "88 %" in checks
    # Sorting by the shown column sorts by the raw field: 80 ms before 1.23 s, ascending.
    from validation.admin import SpotCheckAdmin

    index = SpotCheckAdmin.list_display.index("latency_ms_shown") + 1  # the admin's ?o= counts columns from 1
    ascending = client.get(f"/admin/validation/spotcheck/?o={index}").content.decode()
    assert ascending.index("80 ms") < ascending.index("1.23 s")
    check = SpotCheck.objects.get(latency_ms=1234)
    assert "1.23 s" in client.get(f"/admin/validation/spotcheck/{check.pk}/change/").content.decode()


@pytest.mark.django_db
def test_settlements_show_how_long_the_stream_was_live(client, admin_user, earned):
    client.force_login(admin_user)
    page = client.get("/admin/rewards/settlement/").content.decode()
    assert "1 h" in page  # 3,600 live seconds


@pytest.mark.django_db
def test_stream_sessions_show_how_long_they_lasted(client, admin_user, live_alice):
    live_alice(until=timedelta(minutes=30))  # 10 minutes before the hour until 30 minutes into it
    client.force_login(admin_user)
    assert "40 min" in client.get("/admin/streams/streamsession/").content.decode()
