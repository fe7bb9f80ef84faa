"""Login throttling for Django's own login views (the site's /accounts/login/ and /admin/login/).

Why not django-axes: it would be a second limiter beside core/throttle.py, with its own store (a
table per attempt, to be pruned, or its cache handler), its own lockout answer (no Retry-After
unless customised) and its own behaviour when Redis is down. On the one limiter, login shares the
fail-open path (a Redis outage never locks anyone out), the cache and the settings of every other
limit, and its windows are what this needs:

- per account (by username, case-folded, from any address): LOGIN_FAILURE_LIMIT wrong passwords
  within one LOGIN_COOLOFF_SECONDS window lock that username until the window ends;
- per client address (for any usernames): LOGIN_CLIENT_FAILURE_LIMIT wrong passwords lock that
  address the same way.

A locked attempt is refused before the password is checked and is not counted, so a lock never
outlives its window: strangers hammering a username keep its owner out for at most the cool-off,
and one address can keep only LOGIN_CLIENT_FAILURE_LIMIT / LOGIN_FAILURE_LIMIT accounts locked.
The owner's successful login clears the account's count (never the address's: an attacker's own
account must not reset the address's count).

Failures are counted from Django's ``user_login_failed`` signal (sent by ``authenticate()`` with
the request), so every form that authenticates counts; LoginThrottleMiddleware refuses locked
attempts on the login views with HTTP 429.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from core import throttle


def _account_rate() -> throttle.Rate:
    return throttle.Rate(settings.LOGIN_FAILURE_LIMIT, settings.LOGIN_COOLOFF_SECONDS)


def _client_rate() -> throttle.Rate:
    return throttle.Rate(settings.LOGIN_CLIENT_FAILURE_LIMIT, settings.LOGIN_COOLOFF_SECONDS)


def _names(request: HttpRequest, username: str) -> tuple[str, str]:
    return f"login-fail:{throttle.account_id(username)}", f"login-fail:{throttle.client_id(request)}"


def wait(request: HttpRequest, username: str) -> int | None:
    """Seconds until this client may try to log in as ``username`` again; None: it may now."""
    account, client = _names(request, username)
    waits = [throttle.over(client, _client_rate())]
    if username:
        waits.append(throttle.over(account, _account_rate()))
    found = [w for w in waits if w is not None]
    return max(found) if found else None


@receiver(user_login_failed, dispatch_uid="accounts.login_throttle.failed")
def count_failure(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any) -> None:
    if request is None:  # authenticate() called outside a request (a command, a test): nobody to throttle
        return
    username = str(credentials.get("username") or "")
    account, client = _names(request, username)
    throttle.hit(client, _client_rate())
    if username:
        throttle.hit(account, _account_rate())


@receiver(user_logged_in, dispatch_uid="accounts.login_throttle.succeeded")
def clear_account(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None:
        account, _ = _names(request, user.get_username())
        throttle.forget(account, _account_rate())
