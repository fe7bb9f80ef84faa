"""Payouts in the admin: approve, reject, mark paid and export PayPal batches as actions.

Every action calls rewards.services and reports each refusal (wrong status, balance too low) as a
message, so an admin never changes money state by editing fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Avg, Count, Model, OuterRef, QuerySet, Subquery, Sum
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from core.records_admin import ReadOnlyAdmin
from core.users import signed_in_user
from rewards import services
from rewards.models import AuditEntry, PayoutBatch, PayoutMethod, PayoutRequest, PayoutStatus
from rewards.split import sum_to_cents
from validation.models import FraudFlag, NodeTrust

M = TypeVar("M", bound=Model)


class ReadOnlyInline(admin.TabularInline[Any, Any]):
    """Related rows shown on a payout or batch page, never edited there."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [name for name in self.fields or () if isinstance(name, str)]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AuditInline(ReadOnlyInline):
    model = AuditEntry
    fields = ["at", "action", "actor", "details"]


class DecisionsAdmin(ReadOnlyAdmin[M]):
    """Its actions change money state: only admins who may change payouts get them."""

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        return actions if request.user.has_perm("rewards.change_payoutrequest") else {}


def _run_each(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    objects: QuerySet[Any],
    done: str,
    run: Callable[[Any], object],
) -> None:
    """Apply ``run`` to each object, reporting successes once and every refusal on its own."""
    ok = 0
    for obj in objects.order_by("pk"):
        try:
            run(obj)
        except services.PayoutError as exc:
            model_admin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
        else:
            ok += 1
    if ok:
        model_admin.message_user(request, f"{ok} {done}.", messages.SUCCESS)


def _text_page(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    objects: QuerySet[Any],
    *,
    action: str,
    title: str,
    label: str | None,
    warning: str = "",
) -> TemplateResponse:
    """The confirmation page of an action: the objects, a warning, and one text field (none when
    ``label`` is None)."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "label": label,
        "warning": warning,
        "objects": objects,
        "action": action,
        "opts": model_admin.model._meta,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/rewards/action_text.html", context)


def _text_or_page(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    objects: QuerySet[Any],
    *,
    action: str,
    title: str,
    label: str,
    required: bool,
) -> str | TemplateResponse:
    """The text the admin typed on the action's confirmation page, or that page (first visit, or a
    required text left empty)."""
    if "apply" in request.POST:
        text = request.POST.get("text", "").strip()
        if text or not required:
            return text
        model_admin.message_user(request, f"{label} is required.", messages.ERROR)
    return _text_page(model_admin, request, objects, action=action, title=title, label=label)


def _csv_response(batch: PayoutBatch, body: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="paypal-payouts-batch-{batch.pk}.csv"'
    return response


class SecondApprovalFilter(admin.SimpleListFilter):
    title = "four eyes"
    parameter_name = "approvals"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("waiting", "waiting for a second approval"), ("two", "approved by two admins")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "waiting":
            return queryset.filter(status=PayoutStatus.REQUESTED, first_approved_by__isnull=False)
        if self.value() == "two":
            return queryset.filter(first_approved_by__isnull=False).exclude(status=PayoutStatus.REQUESTED)
        return queryset


@admin.register(PayoutRequest)
class PayoutRequestAdmin(DecisionsAdmin[PayoutRequest]):
    list_display = [
        "id",
        "requested_at",
        "user",
        "amount",
        "method",
        "address",
        "status",
        "trust",
        "open_flags",
        "unvested",
        "first_approved_by",
        "decided_by",
        "batch",
        "external_reference",
    ]
    list_filter = ["status", SecondApprovalFilter, "method", ("batch", admin.EmptyFieldListFilter), "requested_at"]
    list_select_related = ["user", "first_approved_by", "decided_by", "batch"]
    search_fields = ["user__username", "user__email", "address", "external_reference"]
    date_hierarchy = "requested_at"
    readonly_fields = ["balance_now", *[f.name for f in PayoutRequest._meta.fields]]
    inlines = [AuditInline]
    actions = ["approve", "reject", "mark_paid", "export_batch"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PayoutRequest]:
        # What the approver weighs, per friend, in three subqueries instead of three per row.
        friend = OuterRef("user_id")
        trust = NodeTrust.objects.filter(node__owner_id=friend).values("node__owner_id").annotate(a=Avg("score"))
        flags = FraudFlag.objects.filter(node__owner_id=friend, resolved=False).values("node__owner_id")
        unvested = services.unvested_credits().filter(user_id=friend).values("user_id").annotate(t=Sum("amount"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                friend_trust=Subquery(trust.values("a")[:1]),
                friend_flags=Subquery(flags.annotate(n=Count("pk")).values("n")[:1]),
                friend_unvested=Subquery(unvested.values("t")[:1]),
            )
        )

    @admin.display(description="trust (nodes' mean)")
    def trust(self, payout: PayoutRequest) -> str:
        score = getattr(payout, "friend_trust", None)
        return "no checks yet" if score is None else f"{score:.2f}"

    @admin.display(description="open fraud flags")
    def open_flags(self, payout: PayoutRequest) -> int:
        return getattr(payout, "friend_flags", None) or 0

    @admin.display(description="unvested")
    def unvested(self, payout: PayoutRequest) -> str:
        return str(sum_to_cents(getattr(payout, "friend_unvested", None)))

    @admin.display(description="balance now")
    def balance_now(self, payout: PayoutRequest) -> str:
        now = services.account(payout.user_id)
        return f"{now.balance}: vested {now.vested}, unvested {now.unvested} (requests waiting: {now.pending})"

    @admin.action(description="Approve (debit the ledger)")  # above the four-eyes limit: a first approval
    def approve(self, request: HttpRequest, queryset: QuerySet[PayoutRequest]) -> None:
        actor = signed_in_user(request)
        approved = 0
        waiting: list[str] = []
        for payout in queryset.order_by("pk"):
            try:
                done = services.approve(payout, actor=actor)
            except services.PayoutError as exc:
                self.message_user(request, f"{payout}: {exc.message}", messages.ERROR)
                continue
            if done.status == PayoutStatus.REQUESTED:
                waiting.append(str(payout.pk))  # the first of two approvals: nothing debited yet
            else:
                approved += 1
        if approved:
            self.message_user(request, f"{approved} payout(s) approved.", messages.SUCCESS)
        if waiting:
            limit = settings.PAYOUT_SECOND_ADMIN_OVER
            self.message_user(
                request,
                f"First approval recorded for payout(s) {', '.join(waiting)}: above {limit} {settings.CURRENCY} "
                "for one friend in 24 hours, a second, different admin must approve too (nothing is debited "
                "until then).",
                messages.WARNING,
            )

    @admin.action(description="Reject…")
    def reject(self, request: HttpRequest, queryset: QuerySet[PayoutRequest]) -> TemplateResponse | None:
        reason = _text_or_page(
            self,
            request,
            queryset,
            action="reject",
            title="Reject payouts",
            label="Reason (shown to the friend)",
            required=False,
        )
        if isinstance(reason, TemplateResponse):
            return reason
        _run_each(
            self,
            request,
            queryset,
            "payout(s) rejected",
            lambda p: services.reject(p, actor=signed_in_user(request), reason=reason),
        )
        return None

    @admin.action(description="Mark paid…")
    def mark_paid(self, request: HttpRequest, queryset: QuerySet[PayoutRequest]) -> TemplateResponse | None:
        label = "External reference (PayPal transaction or batch id)"
        reference = _text_or_page(
            self, request, queryset, action="mark_paid", title="Mark payouts paid", label=label, required=True
        )
        if isinstance(reference, TemplateResponse):
            return reference
        _run_each(
            self,
            request,
            queryset,
            "payout(s) marked paid",
            lambda p: services.mark_paid(p, actor=signed_in_user(request), reference=reference),
        )
        return None

    @admin.action(description="Export as a PayPal Payouts batch (CSV)")
    def export_batch(self, request: HttpRequest, queryset: QuerySet[PayoutRequest]) -> HttpResponse | None:
        batch = services.assemble_batch(actor=signed_in_user(request), payouts=queryset)
        if batch is None:
            self.message_user(
                request,
                "None of the selected payouts is approved, unbatched and paid through PayPal or Venmo.",
                messages.WARNING,
            )
            return None
        return _csv_response(batch, services.export_batch(batch, actor=signed_in_user(request)))


class BatchPayoutsInline(ReadOnlyInline):
    model = PayoutRequest
    fields = ["id", "user", "amount", "method", "address", "status", "external_reference"]


@admin.register(PayoutBatch)
class PayoutBatchAdmin(DecisionsAdmin[PayoutBatch]):
    list_display = ["id", "created_at", "created_by", "items", "total", "currency", "downloaded_at"]
    list_filter = [("downloaded_at", admin.EmptyFieldListFilter), "created_at"]
    list_select_related = ["created_by"]
    readonly_fields = [f.name for f in PayoutBatch._meta.fields]
    inlines = [BatchPayoutsInline, AuditInline]
    actions = ["download", "mark_paid"]

    @admin.action(description="Download the PayPal CSV")
    def download(self, request: HttpRequest, queryset: QuerySet[PayoutBatch]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one batch to download.", messages.WARNING)
            return None
        batch = queryset.get()
        if batch.downloaded_at is not None and "apply" not in request.POST:
            # Uploading one file to PayPal twice pays twice: make a second download deliberate.
            when = f"{batch.downloaded_at:%Y-%m-%d %H:%M} UTC"
            warning = f"{batch} was already downloaded on {when}. Upload it to PayPal only if the first upload failed."
            return _text_page(
                self,
                request,
                queryset,
                action="download",
                title="Download this batch again",
                label=None,
                warning=warning,
            )
        return _csv_response(batch, services.export_batch(batch, actor=signed_in_user(request)))

    @admin.action(description="Mark the batch paid…")
    def mark_paid(self, request: HttpRequest, queryset: QuerySet[PayoutBatch]) -> TemplateResponse | None:
        reference = _text_or_page(
            self,
            request,
            queryset,
            action="mark_paid",
            title="Mark batches paid",
            label="PayPal payout batch id",
            required=True,
        )
        if isinstance(reference, TemplateResponse):
            return reference
        for batch in queryset.order_by("pk"):
            try:
                paid = services.mark_batch_paid(batch, actor=signed_in_user(request), reference=reference)
            except services.PayoutError as exc:
                self.message_user(request, f"{batch}: {exc.message}", messages.ERROR)
                continue
            level = messages.SUCCESS if paid else messages.WARNING
            self.message_user(request, f"{batch}: {paid} payout(s) marked paid.", level)
        return None


@admin.register(PayoutMethod)
class PayoutMethodAdmin(ReadOnlyAdmin[PayoutMethod]):
    list_display = ["user", "kind", "address", "updated_at"]
    list_filter = ["kind"]
    list_select_related = ["user"]
    search_fields = ["user__username", "address"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin[AuditEntry]):
    list_display = ["at", "action", "actor", "user", "payout", "batch", "proposal", "details"]
    list_filter = ["action", "actor"]
    list_select_related = ["actor", "user", "payout", "batch", "proposal"]
    search_fields = ["user__username", "actor__username", "action"]
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditEntry._meta.fields]
