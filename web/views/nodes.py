"""Friends' node pages: add a node (enrollment token and commands) and my nodes (live status)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from core.throttle import throttled
from core.users import signed_in_user
from nodes import services
from nodes.models import Node
from rewards import reports
from rewards import services as reward_services
from validation.models import SpotCheck
from validation.services import delivery

DEFAULT_AGENT_PORT = 8090


@login_required
@require_http_methods(["GET", "POST"])
@throttled("enrollment-token", methods=["POST"])  # per friend: each POST makes a new token
def add_node(request: HttpRequest) -> HttpResponse:
    """A friend creates a one-time enrollment token and sees the exact commands to run."""
    user = signed_in_user(request)
    context: dict[str, object] = {"nodes": user.nodes.select_related("assigned_stream")}
    if request.method == "POST":
        record, token = services.create_enrollment_token(user)
        coordinator = request.build_absolute_uri("/").rstrip("/")
        context.update(
            token=token,
            expires_at=record.expires_at,
            register_command=(
                f"streamr-node register --coordinator {coordinator} --token {token} "
                f"--public-url http://YOUR-PUBLIC-ADDRESS:{DEFAULT_AGENT_PORT} --name my-node"
            ),
            run_command=f"streamr-node run --listen 0.0.0.0:{DEFAULT_AGENT_PORT}",
        )
    return render(request, "nodes/add_node.html", context)


@login_required
def my_nodes(request: HttpRequest) -> HttpResponse:
    """The friend's home: their nodes (status ticking live), trust, recent checks, today's earnings."""
    user = signed_in_user(request)
    recent = SpotCheck.objects.order_by("-checked_at")
    nodes = list(
        Node.objects.filter(owner=user)
        .select_related("assigned_stream", "trust")
        .prefetch_related(Prefetch("spot_checks", queryset=recent[:3], to_attr="recent_checks"))
        .order_by("name", "pk")
    )
    today = reports.earned_today_by_node(user.pk)
    watching = delivery.watching([node.pk for node in nodes])  # what viewers attest, not the node's claim
    for node in nodes:
        node.earned_today = today.get(node.pk, Decimal("0.00"))  # type: ignore[attr-defined]
        node.watching = watching.get(node.pk, 0)  # type: ignore[attr-defined]
    context = {
        "nodes": nodes,
        "online": sum(1 for node in nodes if node.status == "online"),
        "earned_today": sum(today.values(), Decimal("0.00")),
        "balance": reward_services.balance(user.pk),
        "currency": settings.CURRENCY,
    }
    return render(request, "nodes/my_nodes.html", context)
