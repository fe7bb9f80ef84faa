from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponseRedirect

from core import units
from core.users import signed_in_user
from rewards import services
from rewards.models import LedgerEntry, Settlement


@admin.register(Settlement)
class SettlementAdmin(admin.ModelAdmin[Settlement]):
    list_display = ["hour", "stream", "live_seconds_shown", "pool", "credited", "nodes", "settled_at"]
    list_filter = ["stream", "hour"]
    list_select_related = ["stream"]
    date_hierarchy = "hour"
    readonly_fields = [
        {"live_seconds": "live_seconds_shown", "duration_ms": "duration_ms_shown"}.get(f.name, f.name)
        for f in Settlement._meta.fields
    ]
    live_seconds_shown = units.admin_field("live_seconds", units.duration, "live")
    duration_ms_shown = units.admin_field("duration_ms", units.milliseconds, "settling took")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by the hourly settlement only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def check_amount_and_memo(data: dict[str, Any]) -> None:
    """The service's own check of a correction's amount and memo, as a form error (this form and
    the correction proposals' form)."""
    try:
        services.check_correction(data["amount"], data.get("memo", ""))
    except services.PayoutError as exc:
        raise ValidationError(exc.message) from exc


class CorrectionForm(forms.ModelForm[LedgerEntry]):
    actor: User | None = None  # the signed-in admin (set by LedgerEntryAdmin.get_form)

    class Meta:
        model = LedgerEntry
        fields = ["user", "amount", "memo"]
        help_texts = {"amount": "Negative takes money back, positive adds it.", "memo": "Why (kept forever)."}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("amount") is not None:
            check_amount_and_memo(data)
            if self.actor is None:
                return data
            if data.get("user") is not None and data["user"].pk == self.actor.pk:
                raise ValidationError("Nobody corrects their own balance: ask another admin.")
            if services.needs_second_admin(self.actor, data["amount"]):
                limit = settings.CORRECTION_SECOND_ADMIN_OVER
                raise ValidationError(
                    f"One admin alone corrects at most {limit} {settings.CURRENCY} in 24 hours (this one and your "
                    "others added up): add it under Correction proposals, and another admin confirms it."
                )
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

    bytes_served_shown = units.admin_field("bytes_served", units.data_size, "bytes served")

    def get_readonly_fields(self, request: HttpRequest, obj: LedgerEntry | None = None) -> list[str]:
        return self._shown_fields() if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: LedgerEntry | None = None) -> list[Any]:
        return self._shown_fields() if obj is not None else ["user", "amount", "memo"]

    @staticmethod
    def _shown_fields() -> list[str]:
        return [f.name if f.name != "bytes_served" else "bytes_served_shown" for f in LedgerEntry._meta.fields]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        if obj is None and issubclass(form, CorrectionForm):  # a class made for this request only
            form.actor = signed_in_user(request)
        return form

    def save_model(self, request: HttpRequest, obj: LedgerEntry, form: Any, change: bool) -> None:
        try:
            entry = services.add_correction(obj.user_id, obj.amount, actor=signed_in_user(request), memo=obj.memo)
        except services.PayoutError as exc:
            # The form's checks passed, then the service refused (e.g. the same admin's other
            # correction, sent at the same moment, used up the one-admin limit): say so, add nothing.
            self.message_user(request, exc.message, messages.ERROR)
            request._correction_refused = True  # type: ignore[attr-defined]
            return
        obj.pk, obj._state.adding = entry.pk, False  # the admin's "added" message links the new entry

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        if getattr(request, "_correction_refused", False):
            return None  # nothing was added
        return super().log_addition(request, obj, message)

    def response_add(self, request: HttpRequest, obj: LedgerEntry, post_url_continue: str | None = None) -> Any:
        if getattr(request, "_correction_refused", False):
            return HttpResponseRedirect(request.path)  # back to the form, under the error message
        return super().response_add(request, obj, post_url_continue)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
