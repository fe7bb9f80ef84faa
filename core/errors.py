"""One error shape for every machine-facing answer: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import sys
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core import database

# Paths answered to programs (origin hooks, node agents, API clients), never with HTML pages.
MACHINE_PATH_PREFIXES = ("/api/", "/hooks/")
# Seconds a client is asked to wait after a 503 for an unreachable database (core/database.py):
# a routine restart takes a few seconds, and the pool retries connecting meanwhile.
DATABASE_RETRY_AFTER = 2


class ServiceError(Exception):
    """A refused operation from an app's services.py; ``status`` is the HTTP status to answer with."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def json_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def unavailable_body() -> dict[str, Any]:
    return error_body("unavailable", "The database is unavailable; retry shortly.")


UNAVAILABLE_HEADERS = {"Retry-After": str(DATABASE_RETRY_AFTER)}


def unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """503 with Retry-After: the JSON error body for programs, a line of text for people (no
    template: rendering the site's pages reads the database)."""
    database.outage_seen(exc)
    if _wants_json(request):
        response: HttpResponse = JsonResponse(unavailable_body(), status=503)
    else:
        text = "The site is briefly unavailable (its database is restarting). Try again in a few seconds.\n"
        response = HttpResponse(text, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(DATABASE_RETRY_AFTER)
    return response


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):  # a service refused: its code, message and status go out as they are
        return Response(error_body(exc.code, exc.message), status=exc.status)
    if database.unavailable(exc):
        database.outage_seen(exc)
        return Response(unavailable_body(), status=503, headers=UNAVAILABLE_HEADERS)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        code, message = "invalid", "The request body is not valid."
        response.data = {"error": {"code": code, "message": message, "fields": response.data}}
        return response
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        detail = exc.detail
        message = str(detail) if not isinstance(detail, (list, dict)) else "Request refused."
        response.data = error_body(code, message)
    return response


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(MACHINE_PATH_PREFIXES)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _wants_json(request):
        return json_error(404, "not_found", "No such resource.")
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _wants_json(request):
        return json_error(400, "bad_request", "The request is malformed or too large.")
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this while handling the exception: an outage raised outside a view (a
    # middleware saving the session) is still a 503, not a 500.
    exc = sys.exc_info()[1]
    if exc is not None and database.unavailable(exc):
        return unavailable_response(request, exc)
    if _wants_json(request):
        return json_error(500, "server_error", "Internal error; it has been logged.")
    return defaults.server_error(request)
