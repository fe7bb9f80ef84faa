"""Correction proposals in the admin: one admin proposes ("Add"), a different admin confirms or
rejects with an action. Nothing here writes the ledger itself: every step is a rewards service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from core.users import signed_in_user
from rewards import services
from rewards.admin.ledger import check_amount_and_memo
from rewards.admin.payouts import AuditInline, _run_each, _text_or_page
from rewards.models import CorrectionProposal


class ProposalForm(forms.ModelForm[CorrectionProposal]):
    class Meta:
        model = CorrectionProposal
        fields = ["user", "amount", "memo"]
        help_texts = {
            "amount": "Negative takes money back, positive adds it. Written to the ledger when another admin confirms.",
            "memo": "Why (kept forever).",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("amount") is not None:
            check_amount_and_memo(data)
        return data


class ProposalAudit(AuditInline):
    fk_name = "proposal"


@admin.register(CorrectionProposal)
class CorrectionProposalAdmin(admin.ModelAdmin[CorrectionProposal]):
    list_display = ["id", "proposed_at", "user", "amount", "memo", "proposed_by", "state", "decided_by", "entry"]
    list_filter = ["state", "proposed_by", "decided_by", "proposed_at"]
    list_select_related = ["user", "proposed_by", "decided_by", "entry"]
    search_fields = ["user__username", "proposed_by__username", "memo"]
    date_hierarchy = "proposed_at"
    form = ProposalForm
    inlines = [ProposalAudit]
    actions = ["confirm", "reject"]

    def get_fields(self, request: HttpRequest, obj: CorrectionProposal | None = None) -> list[Any]:
        return [f.name for f in CorrectionProposal._meta.fields] if obj is not None else ["user", "amount", "memo"]

    def get_readonly_fields(self, request: HttpRequest, obj: CorrectionProposal | None = None) -> list[str]:
        return [f.name for f in CorrectionProposal._meta.fields] if obj is not None else []

    def get_inlines(self, request: HttpRequest, obj: CorrectionProposal | None) -> list[Any]:
        return [ProposalAudit] if obj is not None else []

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)  # deciding is changing a proposal's state
        return actions if request.user.has_perm("rewards.change_correctionproposal") else {}

    def save_model(self, request: HttpRequest, obj: CorrectionProposal, form: Any, change: bool) -> None:
        proposal = services.propose_correction(obj.user_id, obj.amount, actor=signed_in_user(request), memo=obj.memo)
        obj.pk, obj._state.adding = proposal.pk, False  # the admin's "added" message links the proposal

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # decided by the actions below, never edited

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Confirm (write the correction to the ledger)")
    def confirm(self, request: HttpRequest, queryset: QuerySet[CorrectionProposal]) -> None:
        actor = signed_in_user(request)
        _run_each(
            self, request, queryset, "correction(s) confirmed", lambda p: services.confirm_correction(p, actor=actor)
        )

    @admin.action(description="Reject…")
    def reject(self, request: HttpRequest, queryset: QuerySet[CorrectionProposal]) -> TemplateResponse | None:
        reason = _text_or_page(
            self, request, queryset, action="reject", title="Reject corrections", label="Reason", required=False
        )
        if isinstance(reason, TemplateResponse):
            return reason
        actor = signed_in_user(request)
        _run_each(
            self,
            request,
            queryset,
            "correction(s) rejected",
            lambda p: services.reject_correction(p, actor=actor, reason=reason),
        )
        return None
