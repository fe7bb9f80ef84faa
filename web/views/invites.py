"""Signing up through an invite link (login, logout and password change are Django's own views).

Opened while signed in, the link asks first: an invite makes a new account, and signing up would
silently replace the current session (issue 17). Only an explicit "sign out and continue" (a POST
with CSRF) signs the visitor out; until then nothing is accepted, not even a sign-up form posted
from another tab."""

from __future__ import annotations

from django import forms
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts import services
from core.throttle import throttled


class SignupForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="Letters, digits and @/./+/-/_ only.")
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label="Password again", widget=forms.PasswordInput, strip=False)

    def clean(self) -> dict[str, str]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            raise forms.ValidationError("The two passwords differ.")
        return data


@throttled("invite")  # any method: opening links (guessing tokens) and signing up (password hashing)
def accept_invite(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invite = services.open_invite(token)
    except services.InviteError as exc:
        return render(request, "accounts/invite_invalid.html", {"message": exc.message}, status=exc.status)
    if request.user.is_authenticated:
        choice = request.POST.get("choice") if request.method == "POST" else None
        if choice == "switch":
            logout(request)
            return redirect("accept-invite", token=token)
        if choice == "keep":
            return redirect("me")  # the link stays unused, for whoever it was meant for
        return render(request, "accounts/invite_signed_in.html", {"email": invite.email})
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.accept_invite(
                token, username=form.cleaned_data["username"], password=form.cleaned_data["password1"]
            )
        except services.InviteError as exc:
            form.add_error(None, exc.message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("me")
    return render(request, "accounts/accept_invite.html", {"form": form, "email": invite.email})
