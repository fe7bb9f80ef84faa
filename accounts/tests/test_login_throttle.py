"""Login throttling (accounts/login_throttle.py on core/throttle.py): wrong passwords lock an account
and an address for at most the cool-off, answered with 429 and Retry-After, on the site's and the
admin's login; the right password works again within a minute; a Redis outage locks nobody out.

The limiter's clock is moved (``throttle.clock``) instead of sleeping through windows: fixed windows
are aligned on it, so each test starts at a known point of a window."""

from __future__ import annotations

import pytest

from core import throttle
from testkit.redis_down import redis_unreachable  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"
START = 60.0 * 28_000_000  # the first second of a one-minute window (and of every shorter one)


@pytest.fixture
def clock(monkeypatch):
    """The limiter's clock, moved by hand: ``clock.now`` is the time (seconds since the epoch)."""

    class Clock:
        now = START + 1

    monkeypatch.setattr(throttle, "clock", lambda: Clock.now)
    return Clock


def log_in(client, username, password, path=LOGIN, address="127.0.0.1"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in_as(client) -> str | None:
    response = client.get("/me")
    return response.context["user"].get_username() if response.status_code == 200 else None


def test_thirty_wrong_passwords_in_a_row_are_throttled_with_429_and_retry_after(client, friend, clock, settings):
    statuses = [log_in(client, "friend", f"wrong-{n}").status_code for n in range(30)]
    assert statuses == [200] * settings.LOGIN_FAILURE_LIMIT + [429] * (30 - settings.LOGIN_FAILURE_LIMIT)
    refused = log_in(client, "friend", "wrong-again")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= settings.LOGIN_COOLOFF_SECONDS
    page = refused.content.decode()
    assert "Too many log-in attempts" in page
    assert f'Try again in <strong data-retry-after="{refused["Retry-After"]}"' in page  # when, for people


def test_with_the_default_settings_the_right_password_works_again_within_a_minute(client, friend, clock, settings):
    assert (settings.LOGIN_FAILURE_LIMIT, settings.LOGIN_COOLOFF_SECONDS) == (5, 60)  # what production runs
    for n in range(30):
        log_in(client, "friend", f"wrong-{n}")
    refused = log_in(client, "friend", "friend-pass-123")
    assert refused.status_code == 429 and signed_in_as(client) is None  # refused, right password or not
    assert int(refused["Retry-After"]) == 59  # locked in the window's first second: the longest lock
    clock.now += 30
    assert log_in(client, "friend", "friend-pass-123").status_code == 429  # still the same window
    clock.now = START + 60  # a minute after the lock began
    assert log_in(client, "friend", "friend-pass-123").status_code == 302
    assert signed_in_as(client) == "friend"


def test_a_short_cooloff_from_settings_ends_the_lock_after_its_seconds(client, friend, clock, settings):
    settings.LOGIN_FAILURE_LIMIT, settings.LOGIN_COOLOFF_SECONDS = 3, 2
    for n in range(3):
        assert log_in(client, "friend", f"wrong-{n}").status_code == 200
    refused = log_in(client, "friend", "friend-pass-123")
    assert refused.status_code == 429 and refused["Retry-After"] == "1"
    clock.now += 1
    assert log_in(client, "friend", "friend-pass-123").status_code == 302


def test_the_admin_login_is_throttled_too(client, admin_user, clock, settings):
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        assert log_in(client, "root", f"wrong-{n}", path="/admin/login/").status_code == 200
    refused = log_in(client, "root", "root-pass-123", path="/admin/login/")
    assert refused.status_code == 429 and "Retry-After" in refused
    assert client.get("/admin/").status_code == 302  # not signed in
    clock.now += settings.LOGIN_COOLOFF_SECONDS
    assert log_in(client, "root", "root-pass-123", path="/admin/login/").status_code == 302
    assert client.get("/admin/").status_code == 200


def test_an_account_is_locked_whichever_addresses_the_wrong_passwords_come_from(client, friend, outsider, clock):
    for n in range(5):
        log_in(client, "friend", "wrong", address=f"198.51.100.{n}")
    assert log_in(client, "friend", "friend-pass-123", address="203.0.113.9").status_code == 429
    assert log_in(client, "FRIEND", "wrong", address="203.0.113.9").status_code == 429  # one count per name
    # Nobody else is locked: another account, even from the strangers' addresses.
    assert log_in(client, "outsider", "outsider-pass-123", address="198.51.100.0").status_code == 302


def test_one_address_spraying_many_usernames_is_locked_but_not_the_accounts(client, friend, clock, settings):
    for n in range(settings.LOGIN_CLIENT_FAILURE_LIMIT):
        assert log_in(client, f"guess-{n}", "wrong", address="198.51.100.7").status_code == 200
    assert log_in(client, "friend", "friend-pass-123", address="198.51.100.7").status_code == 429
    assert log_in(client, "friend", "friend-pass-123", address="203.0.113.9").status_code == 302  # its owner


def test_refused_attempts_do_not_extend_a_lock(client, friend, clock, settings):
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        log_in(client, "friend", f"wrong-{n}")
    for second in range(0, 59, 2):  # strangers keep trying all through the window
        clock.now = START + second
        assert log_in(client, "friend", "wrong", address="198.51.100.1").status_code == 429
    clock.now = START + 60
    assert log_in(client, "friend", "friend-pass-123").status_code == 302


def test_the_owners_login_clears_the_accounts_count(client, friend, clock, settings):
    for n in range(settings.LOGIN_FAILURE_LIMIT - 1):
        log_in(client, "friend", f"wrong-{n}")
    assert log_in(client, "friend", "friend-pass-123").status_code == 302
    client.logout()
    for n in range(settings.LOGIN_FAILURE_LIMIT - 1):
        assert log_in(client, "friend", f"wrong-{n}", address="203.0.113.9").status_code == 200
    assert log_in(client, "friend", "friend-pass-123").status_code == 302


def test_with_redis_unreachable_login_fails_open(client, friend, redis_unreachable, settings, caplog):  # noqa: F811
    statuses = {log_in(client, "friend", f"wrong-{n}").status_code for n in range(settings.LOGIN_FAILURE_LIMIT + 3)}
    assert statuses == {200}  # not throttled, and no server error
    assert log_in(client, "friend", "friend-pass-123").status_code == 302
    assert signed_in_as(client) == "friend"
    assert "redis (cache) unavailable" in caplog.text
