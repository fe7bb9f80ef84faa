"""The friend's home page, "My nodes": each node's live status, trust, recent checks, whether it
earns right now (and why not), whether viewers can reach it, and the open hour's estimate."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from core.users import signed_in_user
from nodes.models import Node
from rewards import reports
from rewards import services as reward_services
from rewards.services import earning, estimate
from validation import reachability
from validation.models import SpotCheck
from validation.services import delivery
from web import penalties


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
def my_nodes(request: HttpRequest) -> HttpResponse:
    """The friend's home: their nodes (status ticking live), trust, recent checks, why each earns
    or not, reachability, today's earnings and the open hour's estimate. With ``Accept:
    application/json`` the parts that move (earning, reachability, estimate) for the page's
    script to refresh after live events."""
    user = signed_in_user(request)
    recent = SpotCheck.objects.order_by("-checked_at")
    nodes = list(
        Node.objects.filter(owner=user)
        .select_related("assigned_stream", "trust")
        .prefetch_related(Prefetch("spot_checks", queryset=recent[:3], to_attr="recent_checks"))
        .order_by("name", "pk")
    )
    ids = [node.pk for node in nodes]
    today = reports.earned_today_by_node(user.pk)
    verdicts = earning.why_not(nodes)
    probes = reachability.latest_for(ids)
    hour = estimate.open_hour(user)
    earned_today = sum(today.values(), Decimal("0.00"))
    if _wants_json(request):
        return JsonResponse(_state(nodes, today, verdicts, probes, hour, earned_today), encoder=DjangoJSONEncoder)
    watching = delivery.watching(ids)  # what viewers attest, not the node's claim
    penalties.annotate(nodes)
    for node in nodes:
        node.earned_today = today.get(node.pk, Decimal("0.00"))  # type: ignore[attr-defined]
        node.watching = watching.get(node.pk, 0)  # type: ignore[attr-defined]
        node.earning = verdicts[node.pk]  # type: ignore[attr-defined]
        node.reach = reachability.as_state(probes.get(node.pk))  # type: ignore[attr-defined]
        node.estimate = hour.nodes.get(node.pk, Decimal("0.00"))  # type: ignore[attr-defined]
    context = {
        "nodes": nodes,
        "online": sum(1 for node in nodes if node.status == "online"),
        "earning_now": sum(1 for verdict in verdicts.values() if verdict.ok),
        "earned_today": earned_today,
        "open_hour": hour,
        "balance": reward_services.balance(user.pk),
        "currency": settings.CURRENCY,
    }
    return render(request, "nodes/my_nodes.html", context)


def _state(
    nodes: Sequence[Node],
    today: dict[int, Decimal],
    verdicts: dict[int, earning.Earning],
    probes: dict[int, reachability.ReachabilityProbe],
    hour: estimate.OpenHour,
    earned_today: Decimal,
) -> dict[str, Any]:
    """What /me's script refreshes; money as decimal strings, as the API sends it."""
    return {
        "currency": settings.CURRENCY,
        "earned_today": str(earned_today),
        "open_hour": {
            "hour": hour.hour,
            "estimate": str(hour.estimate),
            "nodes": {str(k): str(v) for k, v in hour.nodes.items()},
        },
        "nodes": {
            str(node.pk): {
                "earning": _earning(verdicts[node.pk]),
                "reachability": reachability.as_state(probes.get(node.pk)),
                "estimate": str(hour.nodes.get(node.pk, Decimal("0.00"))),
                "earned_today": str(today.get(node.pk, Decimal("0.00"))),
            }
            for node in nodes
        },
    }


def _earning(verdict: earning.Earning) -> dict[str, Any]:
    return {"ok": verdict.ok, "why": verdict.why, "reason": verdict.reason}
