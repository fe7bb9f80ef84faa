"""Friends' money pages: earnings chart, balance and payout requests, leaderboard."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from core.users import signed_in_user
from rewards import reports, services
from rewards.models import MethodKind, PayoutMethod, PayoutRequest
from web import charts


@login_required
def my_earnings(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    by = "hour" if request.GET.get("by") == "hour" else "day"
    days = 2 if by == "hour" else 30
    since = services.hour_start(timezone.now()) - timedelta(days=days)
    if by == "day":
        since = since.replace(hour=0)
    found = reports.earnings(user.pk, by=by, since=since)
    context = {
        "by": by,
        "days": days,
        "found": found,
        "chart": charts.bar_chart(
            [(p["start"], p["amount"]) for p in found["periods"]],
            label_format="%H:00" if by == "hour" else "%m-%d",
            description=f"Earnings by {by}",
            unit=lambda amount: f"{amount} {settings.CURRENCY}",
        ),
        "balance": services.balance(user.pk),
        "currency": settings.CURRENCY,
    }
    return render(request, "rewards/earnings.html", context)


class MethodForm(forms.Form):
    kind = forms.ChoiceField(choices=MethodKind.choices, label="Pay me by")
    address = forms.CharField(max_length=200, label="PayPal email, Venmo handle, or how to pay you")


class RequestForm(forms.Form):
    amount = forms.CharField(max_length=32, label="Amount")


@login_required
@require_http_methods(["GET", "POST"])
def my_payouts(request: HttpRequest) -> HttpResponse:
    """Balance, payout method and payout requests; each form posts to the same page."""
    user = signed_in_user(request)
    method = PayoutMethod.objects.filter(user=user).first()
    method_form = MethodForm(initial={"kind": method.kind, "address": method.address} if method else None)
    request_form = RequestForm()
    if request.method == "POST":
        action = request.POST.get("form")
        try:
            if action == "method":
                method_form = MethodForm(request.POST)
                if method_form.is_valid():
                    services.set_payout_method(user, **method_form.cleaned_data)
                    messages.success(request, "Payout method saved.")
                    return redirect("my-payouts")
            elif action == "request":
                request_form = RequestForm(request.POST)
                if request_form.is_valid():
                    payout = services.request_payout(user, request_form.cleaned_data["amount"])
                    messages.success(request, f"Payout of {payout.amount} {settings.CURRENCY} requested.")
                    return redirect("my-payouts")
        except services.PayoutError as exc:
            (method_form if action == "method" else request_form).add_error(None, exc.message)
    context = {
        "method": method,
        "method_form": method_form,
        "request_form": request_form,
        "payouts": PayoutRequest.objects.filter(user=user)[:50],
        "account": services.account(user.pk),
        "minimum": settings.PAYOUT_MINIMUM,
        "currency": settings.CURRENCY,
    }
    return render(request, "rewards/payouts.html", context)


@login_required
def leaderboard(request: HttpRequest) -> HttpResponse:
    window = request.GET.get("window", "24h")
    if window not in reports.WINDOWS:
        window = "24h"
    board = reports.leaderboard(window, limit=20)
    context = {"window": window, "windows": list(reports.WINDOWS), "board": board, "currency": settings.CURRENCY}
    return render(request, "rewards/leaderboard.html", context)
