from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from accounts import services
from accounts.models import Invite, NotificationSettings


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin[Invite]):
    """Adding an invite shows its one-time link once; "New link" replaces lost or expired ones."""

    list_display = ["email", "created_at", "created_by", "expires_at", "used_at", "used_by"]
    list_filter = [("used_at", admin.EmptyFieldListFilter), "created_at"]
    list_select_related = ["created_by", "used_by"]
    search_fields = ["email", "used_by__username"]
    fields = ["email"]
    actions = ["new_link"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Invite, form: ModelForm[Invite], change: bool) -> None:
        creator = request.user if isinstance(request.user, User) else None
        invite, link = services.create_invite(obj.email, created_by=creator)
        obj.pk, obj._state.adding = invite.pk, False
        self.message_user(request, f"One-time sign-up link for {invite.email} (shown once): {link}", messages.WARNING)

    @admin.action(description="New one-time link for the same email (the old link stops working)")
    def new_link(self, request: HttpRequest, queryset: QuerySet[Invite]) -> None:
        creator = request.user if isinstance(request.user, User) else None
        for old in queryset.filter(used_at__isnull=True):
            services.revoke_invite(old)
            invite, link = services.create_invite(old.email, created_by=creator)
            self.message_user(request, f"Link for {invite.email} (shown once): {link}", messages.WARNING)


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(admin.ModelAdmin[NotificationSettings]):
    """Who turned which emails off (people choose on /me/notifications; no row: everything on)."""

    list_display = ["user", "node_offline", "node_penalties", "payouts", "payouts_waiting", "payouts_waiting_sent_at"]
    list_filter = ["node_offline", "node_penalties", "payouts", "payouts_waiting"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]
    readonly_fields = ["user", "payouts_waiting_sent_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a person's own choice, made on their settings page
