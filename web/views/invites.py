"""Signing up through an invite link (login, logout and password change are Django's own views)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts import services


class SignupForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="Letters, digits and @/./+/-/_ only.")
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label="Password again", widget=forms.PasswordInput, strip=False)

    def clean(self) -> dict[str, str]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            raise forms.ValidationError("The two passwords differ.")
        return data


def accept_invite(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invite = services.open_invite(token)
    except services.InviteError as exc:
        return render(request, "accounts/invite_invalid.html", {"message": exc.message}, status=exc.status)
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
