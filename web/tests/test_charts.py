"""The inline SVG bar chart helper shared by the earnings page and each node's page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from web import charts

START = datetime(2026, 11, 27, tzinfo=UTC)


def points(values):
    return [(START + timedelta(hours=i), value) for i, value in enumerate(values)]


def test_bars_scale_to_the_tallest_and_stand_on_the_axis():
    chart = charts.bar_chart(points([Decimal("2.00"), Decimal("4.00"), 0]), label_format="%H:00", description="x")
    tallest = charts.HEIGHT - charts.AXIS - charts.HEADROOM
    assert [bar.height for bar in chart.bars] == [tallest / 2, tallest, 0]
    assert all(bar.y + bar.height == charts.HEIGHT - charts.AXIS for bar in chart.bars)
    assert chart.bars[1].x > chart.bars[0].x + chart.bars[0].width  # gaps between bars


def test_a_fixed_peak_caps_the_scale():
    chart = charts.bar_chart(points([50, 100, 150]), label_format="%H", description="x", peak=100, height=100)
    tallest = 100 - charts.AXIS - charts.HEADROOM
    assert [bar.height for bar in chart.bars] == [tallest / 2, tallest, tallest]


def test_tooltips_carry_the_unit_and_labels_thin_out():
    chart = charts.bar_chart(points(range(24)), label_format="%H:00", description="x", unit=lambda v: f"{v} USD")
    assert chart.bars[5].title == "05:00: 5 USD"
    assert [bar.label for bar in chart.bars if bar.show_label] == [f"{h:02}:00" for h in range(0, 24, 3)]


def test_an_all_zero_series_is_empty_and_draws_flat_bars():
    chart = charts.bar_chart(points([0, 0]), label_format="%H", description="x")
    assert chart.empty and all(bar.height == 0 for bar in chart.bars)
