from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from core.users import signed_in_user
from rewards import services
from rewards.models import LedgerEntry, Settlement
from rewards.services import payouts


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


class CorrectionForm(forms.ModelForm[LedgerEntry]):
    class Meta:
        model = LedgerEntry
        fields = ["user", "amount", "memo"]
        help_texts = {"amount": "Negative takes money back, positive adds it.", "memo": "Why (kept forever)."}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("amount") is not None:
            try:
                payouts.check_correction(data["amount"], data.get("memo", ""))
            except services.PayoutError as exc:
                raise ValidationError(exc.message) from exc
        return data


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin[LedgerEntry]):
    """Entries are never changed or deleted; "Add" writes a correction through the service."""

    list_display = ["created_at", "user", "kind", "amount", "stream", "node", "memo"]
    list_filter = ["kind", "stream"]
    list_select_related = ["user", "stream", "node"]
    search_fields = ["user__username", "memo"]
    date_hierarchy = "created_at"
    form = CorrectionForm

    def get_readonly_fields(self, request: HttpRequest, obj: LedgerEntry | None = None) -> list[str]:
        return [f.name for f in LedgerEntry._meta.fields] if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: LedgerEntry | None = None) -> list[Any]:
        return [f.name for f in LedgerEntry._meta.fields] if obj is not None else ["user", "amount", "memo"]

    def save_model(self, request: HttpRequest, obj: LedgerEntry, form: Any, change: bool) -> None:
        entry = services.add_correction(obj.user_id, obj.amount, actor=signed_in_user(request), memo=obj.memo)
        obj.pk, obj._state.adding = entry.pk, False  # the admin's "added" message links the new entry

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
