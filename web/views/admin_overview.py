"""The admins' overview at /admin/overview/: what needs a look right now, on one page.

Live streams, nodes online / stale / offline, failing spot-checks of the last hour, suspended
nodes and open appeals, payouts waiting for approval, and the last settlement run; each with links
into the admin's lists. It lives in web (which may read every app) and is served inside the admin's
frame (``admin_view``: staff only, the admin's header and login), linked from the admin's index.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db.models import Count, Min, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from nodes.models import Approval, Node
from rewards.models import PayoutRequest, PayoutStatus, Settlement
from rewards.split import sum_to_cents
from streams.models import Stream
from streams.services import watching_now
from validation.models import Appeal, AppealOutcome, Outcome, SpotCheck

FAILING_SHOWN = 20
LISTED = 20


def admin_url(name: str, *args: Any, query: str = "") -> str | None:
    """A link into the admin, or None when that model is not registered there."""
    try:
        url = reverse(f"admin:{name}", args=args)
    except NoReverseMatch:
        return None
    return f"{url}?{query}" if query else url


def _nodes(now: Any) -> dict[str, Any]:
    counts = Node.objects.aggregate(
        total=Count("pk"),
        online=Count("pk", filter=Q(stale_after__gt=now)),
        stale=Count("pk", filter=Q(stale_after__lte=now, offline_after__gt=now)),
        pending=Count("pk", filter=Q(approval=Approval.PENDING)),
        suspended=Count("pk", filter=Q(approval=Approval.SUSPENDED)),
    )
    counts["offline"] = counts["total"] - counts["online"] - counts["stale"]
    return counts


def _overview(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    hour_ago = now - timedelta(hours=1)
    # One row per live stream; the counts are distinct, so the two joined lists do not multiply.
    live = list(
        Stream.objects.filter(sessions__ended_at__isnull=True)
        .annotate(
            live_since=Min("sessions__started_at"),
            watching=Count("watchers", filter=watching_now(now), distinct=True),
            relays=Count("assigned_nodes", filter=Q(assigned_nodes__stale_after__gt=now), distinct=True),
        )
        .order_by("slug")
    )
    failing = (
        SpotCheck.objects.filter(checked_at__gte=hour_ago, provisional=False)
        .exclude(outcome=Outcome.PASS)
        .select_related("node", "stream")
        .defer("evidence")
        .order_by("-checked_at")
    )
    failing_count = failing.count()
    suspended = list(
        Node.objects.filter(approval=Approval.SUSPENDED).select_related("owner", "trust").order_by("name")[:LISTED]
    )
    open_appeals = Appeal.objects.filter(outcome=AppealOutcome.PENDING)
    appeals = list(open_appeals.select_related("node", "opened_by")[:LISTED])
    waiting = PayoutRequest.objects.filter(status=PayoutStatus.REQUESTED).aggregate(
        count=Count("pk"),
        total=Sum("amount"),
        second=Count("pk", filter=Q(first_approved_by__isnull=False)),
    )
    waiting["total"] = sum_to_cents(waiting["total"])  # SQLite sums decimals as "15.5"
    last_run = Settlement.objects.order_by("-settled_at").first()
    if last_run is not None:
        run = Settlement.objects.filter(hour=last_run.hour).aggregate(
            streams=Count("pk"), pool=Sum("pool"), credited=Sum("credited"), nodes=Sum("nodes")
        )
        run.update(pool=sum_to_cents(run["pool"]), credited=sum_to_cents(run["credited"]))
    else:
        run = {}
    context = {
        **admin.site.each_context(request),
        "title": "Overview",
        "now": now,
        "live": live,
        "nodes": _nodes(now),
        "failing": list(failing[:FAILING_SHOWN]),
        "failing_count": failing_count,
        "suspended": suspended,
        "appeals": appeals,
        "appeals_count": open_appeals.count() if len(appeals) == LISTED else len(appeals),
        "currency": settings.CURRENCY,
        "waiting": waiting,
        "last_run": last_run,
        "run": run,
        "links": {
            "nodes": admin_url("nodes_node_changelist"),
            "online": admin_url("nodes_node_changelist", query="status=online"),
            "stale": admin_url("nodes_node_changelist", query="status=stale"),
            "offline": admin_url("nodes_node_changelist", query="status=offline"),
            "suspended": admin_url("nodes_node_changelist", query="approval__exact=suspended"),
            "pending": admin_url("nodes_node_changelist", query="approval__exact=pending"),
            "checks": admin_url("validation_spotcheck_changelist"),
            "appeals": admin_url("validation_appeal_changelist", query="outcome__exact=pending"),
            "payouts": admin_url("rewards_payoutrequest_changelist", query="status__exact=requested"),
            "settlements": admin_url("rewards_settlement_changelist"),
            "sessions": admin_url("streams_streamsession_changelist", query="live=yes"),
        },
    }
    return TemplateResponse(request, "admin/overview.html", context)


overview = admin.site.admin_view(_overview)
