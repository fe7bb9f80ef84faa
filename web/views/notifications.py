"""GET/POST /me/notifications: which emails a person gets (each kind on or off; every email's
footer links here)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import notifications
from core.users import signed_in_user


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    kinds = [kind for kind in notifications.KINDS if kind != notifications.PAYOUTS_WAITING or user.is_staff]
    if request.method == "POST":
        notifications.update_settings(user, {kind: kind in request.POST for kind in kinds})
        messages.success(request, "Your email choices are saved.")
        return redirect("notification-settings")
    row = notifications.settings_for(user)
    choices = [(kind, notifications.describe(kind), getattr(row, kind)) for kind in kinds]
    return render(request, "accounts/notifications.html", {"choices": choices, "email": user.email})
