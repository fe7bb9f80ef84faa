"""Inline SVG bar charts (no chart library: pages work offline and without JavaScript).

``bar_chart`` turns a series of (period start, value) into bar geometry; the template
``charts/_bar_chart.html`` draws it. The earnings page and each node's page use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

WIDTH, HEIGHT = 600, 160
AXIS = 14  # room under the bars for the period labels
HEADROOM = 6  # room above the tallest bar
MAX_LABELS = 8

Number = int | float | Decimal


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # the period, under the bar ("14:00", "11-27")
    title: str  # the tooltip: period and value in its unit ("14:00: 6.00 USD")
    value: Number
    show_label: bool


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    description: str  # the SVG's accessible name
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def label_y(self) -> int:
        return self.height - 2

    @property
    def empty(self) -> bool:
        return not any(bar.value for bar in self.bars)


def bar_chart(
    points: Sequence[tuple[datetime, Number]],
    *,
    label_format: str,
    description: str,
    unit: Callable[[Number], str] = str,
    peak: Number | None = None,
    height: int = HEIGHT,
) -> Chart:
    """One bar per point, scaled to the tallest (or to ``peak``, e.g. 100 for percentages); every
    n-th bar labelled so that at most MAX_LABELS labels fit."""
    top = float(peak if peak is not None else max((value for _, value in points), default=0)) or 1.0
    slot = WIDTH / max(len(points), 1)
    every = max(1, -(-len(points) // MAX_LABELS))  # ceiling: 24 hours → every 3rd
    bars = []
    for i, (start, value) in enumerate(points):
        tall = max(0.0, min(float(value) / top, 1.0)) * (height - AXIS - HEADROOM)
        label = start.strftime(label_format)
        bars.append(
            Bar(
                x=round(i * slot + slot * 0.1, 1),
                y=round(height - AXIS - tall, 1),
                width=round(slot * 0.8, 1),
                height=round(tall, 1),
                label=label,
                title=f"{label}: {unit(value)}",
                value=value,
                show_label=i % every == 0,
            )
        )
    return Chart(bars=bars, description=description, height=height)
