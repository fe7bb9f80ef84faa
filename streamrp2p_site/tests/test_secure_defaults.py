"""Secure by default in production (issue 17): with only the production variables set, Django's
deployment check is clean (HTTPS redirect, HSTS, secure cookies); INSECURE_HTTP=true is the one
explicit way back to plain http; the machines' plain-http endpoints are never redirected; and a
production page never answers 500 because static files were not collected."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.test import Client, override_settings

from streams.tests.hook_clients import nginx_form, srs_payload
from testkit.browser import AsgiSite

ROOT = Path(__file__).resolve().parents[2]
# The five variables production needs (README, docker/env.example), nothing else.
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "k9" + uuid.uuid4().hex + uuid.uuid4().hex,  # random enough for security.W009
    "HOOK_SECRET": "hook-" + uuid.uuid4().hex,
    "ALLOWED_HOSTS": "streamr.example.org",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}
HTTPS_SETTINGS = [
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_PROXY_SSL_HEADER",
]


def manage(*args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """manage.py in a clean environment: PATH, the production variables and ``environ`` only."""
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **PRODUCTION, **environ},
        capture_output=True,
        text=True,
        timeout=120,
    )


def https_settings(**environ: str) -> dict[str, object]:
    code = (
        "from django.conf import settings as s; import json; "
        f"print(json.dumps({{n: getattr(s, n, None) for n in {HTTPS_SETTINGS!r}}}))"
    )
    done = manage("shell", "-c", code, **environ)
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_deployment_check_is_clean_with_only_the_production_variables():
    done = manage("check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_production_redirects_to_https_sends_hsts_and_keeps_cookies_on_https():
    assert https_settings() == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31_536_000,  # a year
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False,  # the domain owner's choice
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_PROXY_SSL_HEADER": None,  # X-Forwarded-Proto is trusted only behind the TLS proxy
    }
    behind_proxy = https_settings(BEHIND_TLS_PROXY="true")
    assert behind_proxy["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert behind_proxy["SECURE_SSL_REDIRECT"] is True


def test_the_plain_http_opt_out_turns_https_off_and_the_check_says_so():
    found = https_settings(INSECURE_HTTP="true")
    assert found["SECURE_SSL_REDIRECT"] is False and found["SECURE_HSTS_SECONDS"] == 0
    assert found["SESSION_COOKIE_SECURE"] is False and found["CSRF_COOKIE_SECURE"] is False
    done = manage("check", "--deploy", "--fail-level", "WARNING", INSECURE_HTTP="true")
    assert done.returncode != 0
    warned = set(re.findall(r"security\.W\d+", done.stdout + done.stderr))
    assert warned == {"security.W004", "security.W008", "security.W012", "security.W016"}


def test_development_stays_on_plain_http():
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "shell",
            "-c",
            "from django.conf import settings as s; "
            "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)",
        ],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1].split() == ["False", "False", "0"]  # after shell's banner


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True, SECURE_HSTS_SECONDS=31_536_000)
def test_pages_are_redirected_to_https_but_hooks_health_and_metrics_are_not():
    client = Client()
    page = client.get("/accounts/login/?next=/me")
    assert page.status_code == 301 and page["Location"] == "https://testserver/accounts/login/?next=/me"
    # SRS, nginx-rtmp, load balancers and Prometheus call these over plain http inside the network.
    for path in ("/healthz", "/livez", "/readyz", "/metrics"):
        assert client.get(path).status_code != 301, path
    secret = settings.HOOK_SECRET
    srs = client.post(f"/hooks/srs?secret={secret}", srs_payload("on_hls"), content_type="application/json")
    nginx = client.post(f"/hooks/nginx-rtmp/update?secret={secret}", nginx_form())
    assert (srs.status_code, nginx.status_code) == (200, 200)
    secure = client.get("/accounts/login/", secure=True)
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_production_page_is_not_a_500_when_static_files_were_never_collected(tmp_path):
    """`manage.py web --skip-collectstatic` (or any server started without the step) in production:
    the login page renders, its stylesheet is served under its plain name, the log says why."""
    if not settings.REDIS_URL:
        pytest.skip("production mode needs REDIS_URL (CI sets it)")
    empty = tmp_path / "static"  # STATIC_ROOT with no manifest
    environ = {**PRODUCTION, "INSECURE_HTTP": "true", "ALLOWED_HOSTS": "127.0.0.1", "REDIS_URL": settings.REDIS_URL}
    with AsgiSite(tmp_path, **environ, STATIC_ROOT=str(empty)) as site:
        login = httpx.get(site.url + "/accounts/login/", timeout=10)
        assert login.status_code == 200, site.log()[-3000:]
        stylesheet = re.search(r'href="(/static/css/site\.css)"', login.text)
        assert stylesheet, login.text[:2000]
        assert httpx.get(site.url + stylesheet.group(1), timeout=10).status_code == 200
        assert "static files are not collected" in site.log()
