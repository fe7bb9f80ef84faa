from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from nodes.admin import NodeAdmin
from nodes.models import Node
from validation import services
from validation.models import FraudFlag, NodeTrust, SpotCheck


@admin.register(SpotCheck)
class SpotCheckAdmin(admin.ModelAdmin[SpotCheck]):
    list_display = [
        "checked_at",
        "node",
        "stream",
        "outcome",
        "overlap",
        "latency_ms",
        "node_frames",
        "trigger",
    ]
    list_filter = ["outcome", "trigger", "stream", "checked_at"]
    list_select_related = ["node", "stream"]
    search_fields = ["node__name", "node__owner__username"]
    date_hierarchy = "checked_at"
    readonly_fields = [f.name for f in SpotCheck._meta.fields]

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
    list_display = ["node", "score", "checks", "consecutive_failures", "last_checked_at", "suspended_at"]
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
