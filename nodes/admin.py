from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils import timezone

from core import units
from core.records_admin import ReadOnlyAdmin
from nodes import services
from nodes.models import EnrollmentToken, Node, NodeMinute


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("online", "online"), ("stale", "stale"), ("offline", "offline")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        if self.value() == "online":
            return queryset.filter(stale_after__gt=now)
        if self.value() == "stale":
            return queryset.filter(stale_after__lte=now, offline_after__gt=now)
        if self.value() == "offline":
            return queryset.exclude(offline_after__gt=now)
        return queryset


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin[Node]):
    list_display = [
        "name",
        "owner",
        "approval",
        "status",
        "last_seen_at",
        "assigned_stream",
        "viewers",
        "relay_running",
        "agent_version",
        "anomalies",
    ]
    list_filter = ["approval", StatusFilter, "assigned_stream", "relay_running"]
    list_select_related = ["owner", "assigned_stream"]
    search_fields = ["name", "owner__username", "public_url"]
    readonly_fields = [
        "api_key_hint",
        "created_at",
        "last_seen_at",
        "stale_after",
        "offline_after",
        "agent_session",
        "agent_version",
        "last_seq",
        "bytes_served_total_shown",
        "segments_served_total",
        "http_requests_total",
        "viewers",
        "relaying_slug",
        "relay_running",
        "newest_segment_age_shown",
        "anomalies",
        "last_anomaly",
        "last_anomaly_at",
        "assigned_stream",
        "assigned_at",
    ]
    readonly_fields = ["approval", *readonly_fields]  # approval changes through the actions below
    fields = ["owner", "name", "public_url", "pinned_stream", *readonly_fields]
    # The owner is who gets paid for the node: never handed to someone else here (a friend
    # enrolls a node with their own token instead).
    readonly_fields = ["owner", *readonly_fields]
    actions = ["approve", "suspend"]  # validation/admin.py adds "Spot-check now"
    # Human units ("0.07 s", "1.2 MB") in place of the raw numbers.
    bytes_served_total_shown = units.admin_field("bytes_served_total", units.data_size, "bytes served total")
    newest_segment_age_shown = units.admin_field("newest_segment_age", units.seconds, "newest segment age")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # nodes register themselves with an enrollment token

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # it would take its buckets and spot-checks with it: suspend it instead

    def save_model(self, request: HttpRequest, obj: Node, form: ModelForm[Node], change: bool) -> None:
        super().save_model(request, obj, form, change)
        if "pinned_stream" in form.changed_data:
            services.pin(obj, obj.pinned_stream)  # may move the node to its pinned stream

    @admin.display(description="status")
    def status(self, node: Node) -> str:
        return node.status

    @admin.action(description="Approve / reinstate")
    def approve(self, request: HttpRequest, queryset: QuerySet[Node]) -> None:
        self.message_user(request, f"{services.approve(queryset)} node(s) approved.")

    @admin.action(description="Suspend (no assignment, no earnings)")
    def suspend(self, request: HttpRequest, queryset: QuerySet[Node]) -> None:
        count = services.suspend(queryset, reason=f"admin {request.user.get_username()}")
        self.message_user(request, f"{count} node(s) suspended.")


@admin.register(NodeMinute)
class NodeMinuteAdmin(ReadOnlyAdmin[NodeMinute]):
    """Buckets are what settlement paid for: shown, never added, edited or deleted here. Retention
    (nodes.services, hourly) is the one path that deletes them."""

    list_display = [
        "node",
        "minute",
        "stream",
        "heartbeats",
        "healthy_heartbeats",
        "bytes_served_shown",
        "max_viewers",
        "clamped",
    ]
    list_filter = ["stream", "minute"]
    list_select_related = ["node", "stream"]
    date_hierarchy = "minute"
    readonly_fields = [f.name if f.name != "bytes_served" else "bytes_served_shown" for f in NodeMinute._meta.fields]
    bytes_served_shown = units.admin_field("bytes_served", units.data_size, "bytes served")


@admin.register(EnrollmentToken)
class EnrollmentTokenAdmin(admin.ModelAdmin[EnrollmentToken]):
    list_display = ["user", "created_at", "expires_at", "used_at", "node"]
    list_filter = ["used_at", "expires_at"]
    list_select_related = ["user", "node"]
    readonly_fields = ["user", "created_at", "expires_at", "used_at", "node"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made on the "add a node" page or with manage.py enrollmenttoken
