"""Where a login lands (LOGIN_REDIRECT_URL): each person on their own page, not everybody on "My nodes".

Admins → the admin overview; streamers (anyone who owns a stream) → My streams; friends → My nodes.
A ``?next=`` on the login page still wins: Django's LoginView only falls back to this."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse

from core.users import signed_in_user
from streams.models import Stream


def landing_url(user: User) -> str:
    if user.is_staff:
        try:
            return reverse("admin-overview")
        except NoReverseMatch:  # the overview's URL is not wired (yet): the admin's index
            return reverse("admin:index")
    if Stream.objects.filter(owner=user).exists():
        return reverse("my-streams")
    return reverse("me")


@login_required
def landing(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(landing_url(signed_in_user(request)))
