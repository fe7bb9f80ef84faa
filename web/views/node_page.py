"""One node's page: its history over 24 hours or 7 days as charts and tables, and per hour whether
it earned or why not. Its owner's only (anybody else gets a 404, as if it did not exist); staff may
look at any node."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from core import units
from core.users import signed_in_user
from nodes.models import Node
from rewards.services import earning
from web import charts, node_history

CHART_HEIGHT = 120  # five charts on one page: lower than the earnings page's one


def _node_for(request: HttpRequest, pk: int) -> Node:
    user = signed_in_user(request)
    nodes = Node.objects.select_related("owner", "assigned_stream", "trust")
    if not user.is_staff:
        nodes = nodes.filter(owner=user)
    node = nodes.filter(pk=pk).first()
    if node is None:
        raise Http404("No such node.")
    return node


def _charts(found: node_history.NodeHistory) -> list[dict[str, Any]]:
    by = found.window.by
    label = "%H:00" if by == "hour" else "%a %m-%d"
    periods = found.periods
    currency = settings.CURRENCY

    def chart(title: str, values: list[Any], unit: Any, **kwargs: Any) -> dict[str, Any]:
        points = [(p.start, v) for p, v in zip(periods, values, strict=True)]
        made = charts.bar_chart(
            points, label_format=label, description=f"{title} by {by}", unit=unit, height=CHART_HEIGHT, **kwargs
        )
        return {"title": title, "chart": made}

    return [
        chart("Uptime", [p.uptime_percent for p in periods], lambda v: f"{v} %", peak=100),
        chart("Viewers served", [p.viewers or 0 for p in periods], lambda v: f"{v} viewers"),
        chart("Bytes delivered (viewer-attested)", [p.attested_bytes for p in periods], units.data_size),
        chart("Spot-check latency (average)", [p.latency_avg_ms or 0 for p in periods], units.milliseconds),
        chart("Earnings", [p.earned for p in periods], lambda v: f"{v} {currency}"),
    ]


@login_required
def node_page(request: HttpRequest, pk: int) -> HttpResponse:
    node = _node_for(request, pk)
    window = node_history.WINDOWS.get(request.GET.get("window", ""), node_history.WINDOWS["24h"])
    found = node_history.history(node, window)
    context = {
        "node": node,
        "status": node.status_at(timezone.now()),
        "trust": getattr(node, "trust", None),  # None: never checked (no query: select_related)
        "window": window,
        "windows": list(node_history.WINDOWS.values()),
        "found": found,
        "totals": found.totals,
        "charts": _charts(found),
        "earning_history": earning.history(node, window.hours),
        "currency": settings.CURRENCY,
        "mine": node.owner_id == signed_in_user(request).pk,
    }
    return render(request, "nodes/node_page.html", context)
