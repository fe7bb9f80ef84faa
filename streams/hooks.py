"""HTTP callbacks from the origin media server (SRS JSON, nginx-rtmp forms).

The origin blocks the publisher or player while it waits for us, and SRS refuses every publish
while this URL is unreachable, so these views do nothing but parse, authenticate and call one
service function: no network I/O, no slow work.

Answers: allowed = HTTP 200 ``{"code": 0}``; refused = 4xx with ``{"code": <status>, "error":
{...}}`` (SRS reads a non-200 or a non-zero ``code`` as a refusal, nginx-rtmp any non-2xx).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from core import tokens
from core.errors import error_body
from streams import services
from streams.models import Origin

log = logging.getLogger(__name__)

SRS_PATH = "/hooks/srs"
MAX_FIELD_LENGTH = 64
# Players of HLS or HTTP-FLV are reported under the file name (SRS: on_play stream=<slug>.m3u8).
PLAYBACK_SUFFIXES = (".m3u8", ".flv")


class BadHook(Exception):
    """The hook body is malformed; answered with 400."""


Answer = tuple[int, dict[str, Any]]  # status and JSON body


def _allowed() -> Answer:
    return 200, {"code": 0}


def _refused(status: int, code: str, message: str) -> Answer:
    # SRS refuses on a non-200 status or a non-zero top-level "code"; nginx-rtmp on any non-2xx.
    return status, {"code": status, **error_body(code, message)}


def _response(answer: Answer) -> JsonResponse:
    status, body = answer
    return JsonResponse(body, status=status)


def _text(data: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise BadHook(f"Missing field {name!r}.")
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise BadHook(f"Field {name!r} must be a string.")
    if len(value) > MAX_FIELD_LENGTH or not _clean(value):
        raise BadHook(f"Field {name!r} is too long or contains invalid characters.")
    return value


def _clean(value: str) -> bool:
    """No NUL (PostgreSQL refuses it) and no lone surrogates (they cannot be encoded)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _ip(data: Mapping[str, Any], name: str) -> str | None:
    """The client address, or None when absent or not an IP (never a reason to refuse)."""
    value = data.get(name)
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _stream_name(data: Mapping[str, Any], name: str) -> str:
    value = _text(data, name)
    for suffix in PLAYBACK_SUFFIXES:
        if value.endswith(suffix):
            return value[: -len(suffix)]
    return value


def _run(path: str, handler: Callable[[], None]) -> Answer:
    try:
        handler()
    except BadHook as exc:
        return _refused(400, "bad_request", str(exc))
    except services.StreamError as exc:
        log.info("origin hook refused %s: %s", path, exc.code)
        return _refused(exc.status, exc.code, exc.message)
    return _allowed()


@functools.lru_cache(maxsize=8)
def _networks(origins: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(origin, strict=False) for origin in origins)


def origin_refused(address: str | None) -> Answer | None:
    """403 unless ``address`` (the caller as the ASGI server reports it) is in HOOK_ALLOWED_ORIGINS;
    None when it is, or when the list is empty (anyone with the secret). Checked before the secret:
    an outside address learns nothing about it."""
    allowed = settings.HOOK_ALLOWED_ORIGINS
    if not allowed:
        return None
    try:
        caller = ipaddress.ip_address(address or "")
    except ValueError:
        caller = None  # no address (a Unix socket) or not an IP: not on any list
    if isinstance(caller, ipaddress.IPv6Address) and caller.ipv4_mapped is not None:
        caller = caller.ipv4_mapped  # a dual-stack socket reports IPv4 callers as ::ffff:a.b.c.d
    if caller is not None and any(caller in network for network in _networks(tuple(allowed))):
        return None
    log.warning("origin hook refused: caller %s is not in HOOK_ALLOWED_ORIGINS", address or "unknown")
    return _refused(403, "hook_origin_not_allowed", "This address may not call the origin hooks.")


def _guard(request: HttpRequest) -> JsonResponse | None:
    if request.method != "POST":
        return _response(_refused(405, "method_not_allowed", "Origin hooks are POST requests."))
    refused = origin_refused(request.META.get("REMOTE_ADDR"))
    if refused is not None:
        return _response(refused)
    if not tokens.constant_time_equal(request.GET.get("secret", ""), settings.HOOK_SECRET):
        return _response(_refused(403, "bad_hook_secret", "Wrong or missing hook secret."))
    return None


# --- SRS ----------------------------------------------------------------------------------------


def _srs_key(data: Mapping[str, Any]) -> str | None:
    param = data.get("param")
    if not isinstance(param, str):
        return None
    if not _clean(param):
        raise BadHook("Field 'param' contains invalid characters.")
    return parse_qs(param.lstrip("?")).get("key", [None])[0]


def _srs_publish(data: Mapping[str, Any]) -> None:
    services.admit_publish(
        services.PublishRequest(
            origin=Origin.SRS,
            app=_text(data, "app"),
            slug=_text(data, "stream"),
            key=_srs_key(data),
            client_id=_text(data, "client_id"),
            server_id=_text(data, "server_id", required=False),
            ip=_ip(data, "ip"),
        )
    )


def _srs_unpublish(data: Mapping[str, Any]) -> None:
    services.end_publish(
        origin=Origin.SRS,
        slug=_text(data, "stream"),
        client_id=_text(data, "client_id"),
        server_id=_text(data, "server_id", required=False),
    )


def _srs_play(data: Mapping[str, Any]) -> None:
    services.record_play(slug=_stream_name(data, "stream"), client_id=_text(data, "client_id"), ip=_ip(data, "ip"))


def _srs_stop(data: Mapping[str, Any]) -> None:
    services.record_stop(slug=_stream_name(data, "stream"), client_id=_text(data, "client_id"))


def _srs_hls(data: Mapping[str, Any]) -> None:
    # on_hls fires for every segment SRS writes: the publish is alive.
    services.record_signal(
        origin=Origin.SRS,
        slug=_text(data, "stream"),
        client_id=_text(data, "client_id"),
        server_id=_text(data, "server_id", required=False),
    )


SRS_ACTIONS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "on_publish": _srs_publish,
    "on_hls": _srs_hls,
    "on_unpublish": _srs_unpublish,
    "on_play": _srs_play,
    "on_stop": _srs_stop,
}


def answer_srs(secret: str, body: bytes) -> Answer:
    """An SRS callback from its secret and raw body. The Django view and the lean ASGI route
    (streams/fastpath.py, what production serves) both answer with this."""
    if not tokens.constant_time_equal(secret, settings.HOOK_SECRET):
        return _refused(403, "bad_hook_secret", "Wrong or missing hook secret.")
    try:
        # Strict UTF-8 first: json.loads(bytes) would let encoded lone surrogates through.
        data = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _refused(400, "bad_request", "The body is not valid JSON.")
    if not isinstance(data, dict):
        return _refused(400, "bad_request", "The body must be a JSON object.")
    action = data.get("action")
    if not isinstance(action, str) or not action:
        return _refused(400, "bad_request", "Missing field 'action'.")
    handler = SRS_ACTIONS.get(action)
    if handler is None:
        return _allowed()  # on_dvr, on_connect, on_close, …: SRS sends more than we use.
    return _run(SRS_PATH, lambda: handler(data))


@csrf_exempt
def srs_hook(request: HttpRequest) -> JsonResponse:
    """``POST /hooks/srs?secret=…`` — every SRS ``http_hooks`` callback points here."""
    if request.method != "POST":
        return _response(_refused(405, "method_not_allowed", "Origin hooks are POST requests."))
    refused = origin_refused(request.META.get("REMOTE_ADDR"))
    if refused is not None:
        return _response(refused)
    return _response(answer_srs(request.GET.get("secret", ""), request.body))


# --- nginx-rtmp ---------------------------------------------------------------------------------


def _nginx_publish(data: Mapping[str, Any]) -> None:
    services.admit_publish(
        services.PublishRequest(
            origin=Origin.NGINX_RTMP,
            app=_text(data, "app"),
            slug=_text(data, "name"),
            key=data.get("key") or None,
            client_id=_text(data, "clientid"),
            ip=_ip(data, "addr"),
        )
    )


def _nginx_publish_done(data: Mapping[str, Any]) -> None:
    services.end_publish(origin=Origin.NGINX_RTMP, slug=_text(data, "name"), client_id=_text(data, "clientid"))


def _nginx_play(data: Mapping[str, Any]) -> None:
    services.record_play(slug=_text(data, "name"), client_id=_text(data, "clientid"), ip=_ip(data, "addr"))


def _nginx_play_done(data: Mapping[str, Any]) -> None:
    services.record_stop(slug=_text(data, "name"), client_id=_text(data, "clientid"))


def _nginx_update(data: Mapping[str, Any]) -> None:
    # on_update fires every notify_update_timeout for each connection; publishers' keep us current.
    if data.get("name") and data.get("clientid"):
        services.record_signal(origin=Origin.NGINX_RTMP, slug=_text(data, "name"), client_id=_text(data, "clientid"))


NGINX_EVENTS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "publish": _nginx_publish,
    "update": _nginx_update,
    "publish_done": _nginx_publish_done,
    "play": _nginx_play,
    "play_done": _nginx_play_done,
}


@csrf_exempt
def nginx_rtmp_hook(request: HttpRequest, event: str) -> JsonResponse:
    """``POST /hooks/nginx-rtmp/<event>?secret=…`` — ``on_<event>`` of nginx's rtmp module."""
    refused = _guard(request)
    if refused is not None:
        return refused
    handler = NGINX_EVENTS.get(event)
    if handler is None:
        return _response(_allowed())  # on_connect, on_done, on_record_done, …: nothing to do.
    try:
        # nginx-rtmp writes its own fields (app, name, clientid, addr…) first and appends the
        # publish URL's query arguments after them: the first value is nginx's, a later one is
        # the publisher's (…/live/alice?key=…&name=bob must not publish as bob).
        data = {name: values[0] for name, values in request.POST.lists() if values}
    except MultiPartParserError:
        return _response(_refused(400, "bad_request", "The body is not a valid form."))
    return _response(_run(request.path, lambda: handler(data)))
