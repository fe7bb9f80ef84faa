from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from rewards.models import LedgerEntry, Settlement


@admin.register(Settlement)
class SettlementAdmin(admin.ModelAdmin[Settlement]):
    list_display = ["hour", "stream", "live_seconds", "pool", "credited", "nodes", "settled_at"]
    list_filter = ["stream", "hour"]
    list_select_related = ["stream"]
    date_hierarchy = "hour"
    readonly_fields = [f.name for f in Settlement._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by the hourly settlement only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin[LedgerEntry]):
    """Read-only: the ledger is append-only; corrections are new entries made by services."""

    list_display = ["created_at", "user", "kind", "amount", "stream", "node", "memo"]
    list_filter = ["kind", "stream"]
    list_select_related = ["user", "stream", "node"]
    search_fields = ["user__username", "memo"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in LedgerEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
