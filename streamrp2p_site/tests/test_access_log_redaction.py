"""The hook secret never reaches a log (issue 17): SRS's hook URLs carry it as ``?secret=…`` and
SRS calls ``on_hls`` for every segment. The real `manage.py web` in production mode logs every
request, hooks included, with the secret redacted; daphne's access log (`manage.py serve`) and the
site's log lines (tracebacks included) do the same."""

from __future__ import annotations

import io
import logging
import sys
import time
import uuid
from urllib.parse import quote

import httpx
import pytest
from django.conf import settings

from streamrp2p_site.daphne_server import RedactingAccessLog
from streamrp2p_site.redaction import LineFormatter, RedactRequestPaths, redact_target
from streams.tests.hook_clients import nginx_form, srs_payload
from testkit.browser import AsgiSite


def production(tmp_path, secret: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """`make web`'s environment in production (DEBUG off) on plain http, with its access log on."""
    if not settings.REDIS_URL:
        pytest.skip("production mode needs REDIS_URL (CI sets it)")
    return {
        "DEBUG": "false",
        "INSECURE_HTTP": "true",  # plain http on loopback
        "SECRET_KEY": "test-" + uuid.uuid4().hex * 2,
        "HOOK_SECRET": secret,
        "ALLOWED_HOSTS": "127.0.0.1",
        "REDIS_URL": settings.REDIS_URL,
        "STATIC_ROOT": str(tmp_path / "static"),
        "LOG_LEVEL": "INFO",
    }


def wait_for(site: AsgiSite, text: str, count: int) -> str:
    """The server's log once ``text`` is in it ``count`` times (lines are written after answers)."""
    deadline = time.monotonic() + 10
    while site.log().count(text) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return site.log()


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_the_web_tiers_log_shows_every_hook_call_but_never_the_secret(make_stream, tmp_path):
    secret = "hook-" + uuid.uuid4().hex
    _, alice_key = make_stream("alice")
    _, bob_key = make_stream("bob")
    with AsgiSite(tmp_path, **production(tmp_path, secret)) as site:
        srs = f"{site.url}/hooks/srs?secret={secret}"
        assert httpx.post(srs, json=srs_payload("on_publish", key=alice_key), timeout=10).json() == {"code": 0}
        for _ in range(5):  # one on_hls per segment
            assert httpx.post(srs, json=srs_payload("on_hls"), timeout=10).status_code == 200
        # The secret elsewhere in the query, percent-encoded, or a wrong one: none printed either.
        encoded = f"{site.url}/hooks/srs?app=live&%73ecret={quote(secret, safe='')}"
        assert httpx.post(encoded, json=srs_payload("on_hls"), timeout=10).status_code == 200
        wrong = httpx.post(f"{site.url}/hooks/srs?secret=guess-{secret[::-1]}", json=srs_payload("on_hls"), timeout=10)
        assert wrong.status_code == 403 and secret not in wrong.text
        nginx = f"{site.url}/hooks/nginx-rtmp/publish?secret={secret}"
        assert httpx.post(nginx, data=nginx_form("bob", key=bob_key), timeout=10).status_code == 200
        refused = httpx.post(nginx, data=nginx_form("bob", key="wrong"), timeout=10)  # logged as a refusal too
        assert refused.status_code == 403 and secret not in refused.text
        log = wait_for(site, '"POST /hooks/', 10)
    assert log.count('"POST /hooks/srs?secret=[redacted] HTTP/1.1" 200') == 6, log[-3000:]
    assert '"POST /hooks/srs?app=[redacted]&%73ecret=[redacted] HTTP/1.1" 200' in log
    assert '"POST /hooks/srs?secret=[redacted] HTTP/1.1" 403' in log
    assert log.count('"POST /hooks/nginx-rtmp/publish?secret=[redacted] HTTP/1.1"') == 2
    assert secret not in log and quote(secret, safe="") not in log and secret[::-1] not in log


def test_daphnes_access_log_redacts_hook_queries():
    """`manage.py serve` (make run) and `web --server daphne` run daphne with this access log."""
    stream = io.StringIO()
    details = {"client": "127.0.0.1:5000", "status": 200, "size": 11, "method": "POST", "time_taken": 0.01}
    RedactingAccessLog(stream)("http", "complete", {**details, "path": f"/hooks/srs?secret={settings.HOOK_SECRET}"})
    RedactingAccessLog(stream)("http", "complete", {**details, "path": "/accounts/login/?next=/me"})
    lines = stream.getvalue().splitlines()
    assert '"POST /hooks/srs?secret=[redacted]" 200 11' in lines[0] and settings.HOOK_SECRET not in lines[0]
    assert '"POST /accounts/login/?next=/me" 200' in lines[1]  # other queries stay readable


def test_daphnes_runserver_lines_are_redacted():
    record = logging.LogRecord(
        "django.channels.server", logging.INFO, __file__, 1, "HTTP %(method)s %(path)s %(status)s", None, None
    )
    record.args = {"method": "POST", "path": "/hooks/nginx-rtmp/publish?secret=abc&x=1", "status": 200}
    assert RedactRequestPaths().filter(record)
    assert record.getMessage() == "HTTP POST /hooks/nginx-rtmp/publish?secret=[redacted]&x=[redacted] 200"


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        ("/hooks/srs?secret=s3cr3t-value", "/hooks/srs?secret=[redacted]"),
        ("/hooks/srs?s3cr3t-value", "/hooks/srs?[redacted]"),
        ("/hook%73/srs?secret=s3cr3t-value", "/hook%73/srs?secret=[redacted]"),
        ("/api/v1/streams?token=abc&page=2", "/api/v1/streams?token=[redacted]&page=2"),
        ("/watch/alice?quality=720p", "/watch/alice?quality=720p"),
        ("/healthz", "/healthz"),
    ],
)
def test_request_targets_are_redacted_on_hook_paths_and_for_secret_names(target, logged):
    assert redact_target(target) == logged


def test_the_hook_secret_is_scrubbed_from_any_line_tracebacks_included():
    try:
        raise RuntimeError(f"bad call to /hooks/srs?secret={settings.HOOK_SECRET}")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed: %s", (settings.HOOK_SECRET,), None)
        record.exc_info = sys.exc_info()
    line = LineFormatter("%(levelname)s %(message)s").format(record)
    assert settings.HOOK_SECRET not in line
    assert line.startswith("ERROR failed: [redacted]") and "RuntimeError: bad call" in line
