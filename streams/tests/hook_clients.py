"""Origin hook clients that post exactly what SRS 5 and nginx-rtmp post, and sessions as an origin
leaves them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone

from streams.models import Origin, Stream, StreamSession


def srs_payload(
    action: str,
    stream: str = "alice",
    *,
    key: str | None = None,
    client_id: str = "341w361a",
    app: str = "live",
    **overrides: Any,
) -> dict[str, Any]:
    """An SRS 5 http_hooks body (fields as SRS sends them, including the ones we ignore)."""
    param = f"?key={key}" if key is not None else ""
    body: dict[str, Any] = {
        "server_id": "vid-0xk989d",
        "service_id": "5f7e9p3q",
        "action": action,
        "client_id": client_id,
        "ip": "192.0.2.10",
        "vhost": "__defaultVhost__",
        "app": app,
        "tcUrl": f"rtmp://origin.example:1935/{app}",
        "stream": stream,
        "param": param,
        "stream_url": f"/{app}/{stream}",
        "stream_id": "vid-124q9y3",
    }
    body.update(overrides)
    return body


def nginx_form(name: str = "alice", *, key: str | None = None, clientid: str = "17", **extra: str) -> dict[str, str]:
    """nginx-rtmp's notify form: its own fields plus the publish/play URL's query arguments."""
    form = {
        "app": "live",
        "flashver": "FMLE/3.0 (compatible; Lavf59.27",
        "swfurl": "",
        "tcurl": "rtmp://127.0.0.1:1935/live",
        "pageurl": "",
        "addr": "192.0.2.20",
        "clientid": clientid,
        "name": name,
        "type": "live",
    }
    if key is not None:
        form["key"] = key
    form.update(extra)
    return form


SrsPoster = Callable[..., HttpResponse]


@pytest.fixture
def post_srs(client: Client, django_capture_on_commit_callbacks: Any) -> SrsPoster:
    def post(body: Any, *, secret: str | None = None, raw: bytes | None = None) -> HttpResponse:
        secret = settings.HOOK_SECRET if secret is None else secret
        data = raw if raw is not None else json.dumps(body)
        # Tests run inside a transaction: run what the hook queued for after commit, as production does.
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(f"/hooks/srs?secret={secret}", data=data, content_type="application/json")

    return post


@pytest.fixture
def post_nginx(client: Client, django_capture_on_commit_callbacks: Any) -> Callable[..., HttpResponse]:
    def post(event: str, form: dict[str, str], *, secret: str | None = None) -> HttpResponse:
        secret = settings.HOOK_SECRET if secret is None else secret
        # nginx-rtmp sends application/x-www-form-urlencoded bodies.
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                f"/hooks/nginx-rtmp/{event}?secret={secret}",
                data=urlencode(form),
                content_type="application/x-www-form-urlencoded",
            )

    return post


def open_session(
    stream: Stream, *, signal_ago: float | None, started_ago: timedelta = timedelta(minutes=10)
) -> StreamSession:
    """A live SRS session whose origin last spoke ``signal_ago`` seconds ago (None: an origin that
    sends no periodic hooks)."""
    now = timezone.now()
    return StreamSession.objects.create(
        stream=stream,
        origin=Origin.SRS,
        client_id=f"c{stream.pk}",
        started_at=now - started_ago,
        last_signal_at=None if signal_ago is None else now - timedelta(seconds=signal_ago),
    )
