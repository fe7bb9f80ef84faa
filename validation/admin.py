from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from core import units
from core.records_admin import ReadOnlyAdmin
from nodes.admin import NodeAdmin
from nodes.models import Node
from validation import services
from validation.models import Appeal, FraudFlag, NodeTrust, ReachabilityProbe, SpotCheck

HUMAN = {"overlap": "overlap_shown", "latency_ms": "latency_ms_shown"}  # raw field -> shown in human units


@admin.register(SpotCheck)
class SpotCheckAdmin(admin.ModelAdmin[SpotCheck]):
    list_display = [
        "checked_at",
        "node",
        "stream",
        "outcome",
        "overlap_shown",
        "latency_ms_shown",
        "node_frames",
        "trigger",
    ]
    list_filter = ["outcome", "trigger", "stream", "checked_at"]
    list_select_related = ["node", "stream"]
    search_fields = ["node__name", "node__owner__username"]
    date_hierarchy = "checked_at"
    readonly_fields = [HUMAN.get(f.name, f.name) for f in SpotCheck._meta.fields]
    overlap_shown = units.admin_field("overlap", units.percent, "overlap")
    latency_ms_shown = units.admin_field("latency_ms", units.milliseconds, "latency")

    # A verdict is evidence (clawbacks, suspensions, vesting read it): shown, never added, edited or
    # deleted here. Retention (validation.services, hourly) is the one path that deletes checks.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # verdicts come from checks only

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FailingFilter(admin.SimpleListFilter):
    title = "failing"
    parameter_name = "failing"

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, str]]:
        return [("yes", "failing now"), ("suspended", "suspended by checks")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[NodeTrust]) -> QuerySet[NodeTrust]:
        if self.value() == "yes":
            return queryset.filter(consecutive_failures__gt=0)
        if self.value() == "suspended":
            return queryset.filter(suspended_at__isnull=False)
        return queryset


@admin.register(NodeTrust)
class NodeTrustAdmin(admin.ModelAdmin[NodeTrust]):
    list_display = ["node", "score_shown", "checks", "consecutive_failures", "last_checked_at", "suspended_at"]
    score_shown = units.admin_field("score", lambda score: f"{score:.2f}", "score")
    list_filter = [FailingFilter]
    list_select_related = ["node"]
    ordering = ["score"]
    readonly_fields = [f.name for f in NodeTrust._meta.fields]
    actions = ["reinstate"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a failing node's record; reinstating is the action below

    @admin.action(description="Reinstate the nodes (approve, reset failures)")
    def reinstate(self, request: HttpRequest, queryset: QuerySet[NodeTrust]) -> None:
        from nodes.models import Node
        from validation import services

        count = services.reinstate(Node.objects.filter(trust__in=queryset))
        self.message_user(request, f"{count} node(s) reinstated.")


@admin.register(FraudFlag)
class FraudFlagAdmin(admin.ModelAdmin[FraudFlag]):
    list_display = ["detected_at", "node", "kind", "resolved"]
    list_filter = ["kind", "resolved"]
    list_select_related = ["node"]
    readonly_fields = ["node", "kind", "detected_at", "evidence"]
    actions = ["resolve"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # an open flag holds the friend's payouts: resolve it, never make it vanish

    @admin.action(description="Mark resolved")
    def resolve(self, request: HttpRequest, queryset: QuerySet[FraudFlag]) -> None:
        resolved = services.resolve_flags(queryset.values_list("pk", flat=True), actor=request.user)  # type: ignore[arg-type]
        self.message_user(request, f"{len(resolved)} flag(s) resolved.")


PROBE_FIELDS = ["node", "checked_at", "url", "ok", "verdict", "trigger", "latency_ms_shown", "detail", "staff_detail"]


@admin.register(ReachabilityProbe)
class ReachabilityProbeAdmin(admin.ModelAdmin[ReachabilityProbe]):
    """Reachability probes (validation/reachability.py): what the owner was told, and for staff the
    exception text or status behind it."""

    list_display = ["checked_at", "node", "verdict", "ok", "trigger", "latency_ms_shown", "url"]
    latency_ms_shown = units.admin_field("latency_ms", units.milliseconds, "latency")
    list_filter = ["verdict", "ok", "trigger", "checked_at"]
    list_select_related = ["node"]
    search_fields = ["node__name", "node__owner__username", "url"]
    date_hierarchy = "checked_at"
    fields = tuple(PROBE_FIELDS)
    readonly_fields = PROBE_FIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # probes come from probing only

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdmin[Appeal]):
    """Owners' appeals of suspensions and what their re-check decided (validation/services/appeals.py):
    the record of a decision, made by the re-check only, never added, edited or deleted here."""

    list_display = ["opened_at", "node", "opened_by", "outcome", "decided_at", "recheck_evidence"]
    list_filter = ["outcome", "opened_at"]
    list_select_related = ["node", "opened_by", "recheck"]
    search_fields = ["node__name", "opened_by__username", "message"]
    date_hierarchy = "opened_at"
    readonly_fields = [*(f.name for f in Appeal._meta.fields if f.name != "recheck"), "recheck_evidence"]
    exclude = ["recheck"]

    @admin.display(description="re-check")
    def recheck_evidence(self, appeal: Appeal) -> str:
        if appeal.recheck is None:
            return "—"
        url = reverse("admin:validation_spotcheck_change", args=[appeal.recheck_id])
        check = appeal.recheck
        latency = units.milliseconds(check.latency_ms)
        return format_html('<a href="{}">{} ({})</a>', url, check.get_outcome_display(), latency)


class CheckedNodeAdmin(NodeAdmin):
    """The nodes admin, plus checking a node on demand. Registered in place of nodes' own: nodes
    cannot import validation (it sits below it), and validation is installed after nodes."""

    actions = [*NodeAdmin.actions, "spot_check"]

    @admin.action(description="Spot-check now")
    def spot_check(self, request: HttpRequest, queryset: QuerySet[Node]) -> None:
        for node in queryset.select_related("assigned_stream"):
            try:
                check = services.spot_check(node, trigger="admin")
            except services.CheckSkipped as exc:
                self.message_user(request, f"{node}: skipped, {exc}", messages.WARNING)
                continue
            level = messages.SUCCESS if check.passed else messages.ERROR
            self.message_user(request, f"{node}: {check.outcome} ({check.latency_ms} ms)", level)


admin.site.unregister(Node)
admin.site.register(Node, CheckedNodeAdmin)
