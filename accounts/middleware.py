"""Refuses login attempts past the failure limits (accounts/login_throttle.py) with HTTP 429."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts import login_throttle
from core import throttle

# The login views by URL name: the site's (django.contrib.auth.urls) and the admin's.
LOGIN_VIEWS = frozenset({"login", "admin:login"})


class LoginThrottleMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> HttpResponse | None:
        match = request.resolver_match
        if request.method != "POST" or match is None or match.view_name not in LOGIN_VIEWS:
            return None
        wait = login_throttle.wait(request, request.POST.get("username", ""))
        if wait is None:
            return None
        retry_at = timezone.now() + timedelta(seconds=wait)
        return throttle.refusal(request, wait, "registration/login_locked.html", {"retry_at": retry_at})
