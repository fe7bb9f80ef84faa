"""HOOK_ALLOWED_ORIGINS: when set, only those addresses may call the origin hooks (the lean SRS
route, Django's SRS view and the nginx-rtmp view alike), refused with a 403 JSON error before the
secret is even looked at; unset, anyone with the secret may."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import Client

from streamrp2p_site.asgi import application
from streams.models import StreamSession
from streams.tests.hook_clients import nginx_form, srs_payload
from testkit.browser import AsgiSite

# The lean route runs the service in a worker thread: the test data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

ALLOWED = ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]
REFUSED = {
    "code": 403,
    "error": {"code": "hook_origin_not_allowed", "message": "This address may not call the origin hooks."},
}


def lean_route(address: str, body: dict[str, object], secret: str | None = None) -> httpx.Response:
    """POST /hooks/srs through the ASGI application (the lean route) from ``address``."""
    secret = settings.HOOK_SECRET if secret is None else secret

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=application, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.post(f"/hooks/srs?secret={secret}", content=json.dumps(body).encode())

    return async_to_sync(send)()


def django_srs(address: str, body: dict[str, object], secret: str | None = None) -> tuple[int, object]:
    secret = settings.HOOK_SECRET if secret is None else secret
    answer = Client(REMOTE_ADDR=address).post(
        f"/hooks/srs?secret={secret}", data=json.dumps(body), content_type="application/json"
    )
    return answer.status_code, answer.json()


def django_nginx(address: str, form: dict[str, str], secret: str | None = None) -> tuple[int, object]:
    secret = settings.HOOK_SECRET if secret is None else secret
    answer = Client(REMOTE_ADDR=address).post(f"/hooks/nginx-rtmp/publish?secret={secret}", data=form)
    return answer.status_code, answer.json()


@pytest.fixture
def allowed(settings):  # type: ignore[no-untyped-def]
    settings.HOOK_ALLOWED_ORIGINS = ALLOWED


def live() -> bool:
    return StreamSession.objects.filter(stream__slug="alice", ended_at__isnull=True).exists()


def test_a_publish_from_an_address_outside_the_list_is_refused_on_the_lean_route(allowed, make_stream):
    _, key = make_stream("alice")
    answer = lean_route("203.0.113.5", srs_payload("on_publish", key=key))
    assert (answer.status_code, answer.json()) == (403, REFUSED)
    assert not live()


@pytest.mark.parametrize("address", ["10.20.30.40", "192.0.2.7", "::ffff:10.0.0.9", "2001:db8::1"])
def test_a_publish_from_an_allowed_address_or_network_goes_live_on_the_lean_route(allowed, make_stream, address):
    _, key = make_stream("alice")
    answer = lean_route(address, srs_payload("on_publish", key=key))
    assert (answer.status_code, answer.json()) == (200, {"code": 0})
    assert live()


def test_djangos_srs_view_refuses_and_admits_by_address_too(allowed, make_stream):
    _, key = make_stream("alice")
    assert django_srs("192.0.2.8", srs_payload("on_publish", key=key)) == (403, REFUSED)
    assert not live()
    assert django_srs("10.1.1.1", srs_payload("on_publish", key=key)) == (200, {"code": 0})
    assert live()


def test_the_nginx_rtmp_hooks_refuse_and_admit_by_address(allowed, make_stream):
    _, key = make_stream("alice")
    assert django_nginx("198.51.100.1", nginx_form(key=key)) == (403, REFUSED)
    assert not live()
    status, _ = django_nginx("192.0.2.7", nginx_form(key=key))
    assert status == 200 and live()


def test_an_outside_caller_learns_nothing_about_the_secret(allowed):
    # Right or wrong secret, the answer is the same: the address is checked first.
    for secret in (settings.HOOK_SECRET, "a-guess"):
        assert lean_route("203.0.113.5", srs_payload("on_hls"), secret).json() == REFUSED
        assert django_nginx("203.0.113.5", nginx_form(), secret) == (403, REFUSED)


def test_an_allowed_address_still_needs_the_secret(allowed):
    answer = lean_route("10.0.0.1", srs_payload("on_hls"), "a-guess")
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "bad_hook_secret"


def test_without_the_setting_any_address_with_the_secret_may_call(make_stream):
    assert settings.HOOK_ALLOWED_ORIGINS == []
    _, key = make_stream("alice")
    answer = lean_route("203.0.113.5", srs_payload("on_publish", key=key))
    assert (answer.status_code, answer.json()) == (200, {"code": 0})


def test_a_value_that_is_not_an_address_stops_the_process_with_its_name():
    environ = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=settings.BASE_DIR,
        env={**environ, "DJANGO_SETTINGS_MODULE": "streamrp2p_site.settings", "HOOK_ALLOWED_ORIGINS": "10.0.0.0/8,srs"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "HOOK_ALLOWED_ORIGINS" in done.stderr and "'srs'" in done.stderr


@pytest.mark.live
def test_the_web_tier_takes_the_callers_address_from_a_trusted_proxy_only(make_stream, tmp_path):
    """`manage.py web` (uvicorn) with only loopback allowed: a direct call from loopback is admitted;
    the same call forwarded by a proxy on loopback (trusted: FORWARDED_ALLOW_IPS' default) for an
    outside client is refused, on the lean SRS route and Django's nginx-rtmp route alike."""
    _, key = make_stream("alice")
    with AsgiSite(tmp_path, HOOK_ALLOWED_ORIGINS="127.0.0.1") as site:
        hook = f"{site.url}/hooks/srs?secret={settings.HOOK_SECRET}"
        nginx = f"{site.url}/hooks/nginx-rtmp/publish?secret={settings.HOOK_SECRET}"
        forwarded = {"X-Forwarded-For": "203.0.113.5"}
        assert httpx.post(hook, json=srs_payload("on_hls"), headers=forwarded, timeout=10).json() == REFUSED
        assert httpx.post(nginx, data=nginx_form(key=key), headers=forwarded, timeout=10).json() == REFUSED
        assert not live()
        answer = httpx.post(hook, json=srs_payload("on_publish", key=key), timeout=10)
        assert (answer.status_code, answer.json()) == (200, {"code": 0}), site.log()[-2000:]
        assert live()
