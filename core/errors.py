"""One error shape for every machine-facing answer: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

# Paths answered to programs (origin hooks, node agents, API clients), never with HTML pages.
MACHINE_PATH_PREFIXES = ("/api/", "/hooks/")


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


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):  # a service refused: its code, message and status go out as they are
        return Response(error_body(exc.code, exc.message), status=exc.status)
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
    if _wants_json(request):
        return json_error(500, "server_error", "Internal error; it has been logged.")
    return defaults.server_error(request)
