"""A database outage answered as one: 503 with Retry-After, not a 500 and a traceback per request.

While PostgreSQL restarts, every request that touches it fails with ``OperationalError``
(connection refused or cut, the server starting up, no pooled connection in time). Nothing was
changed by such a request, so the client is told to retry (``core.errors.unavailable_response``).
DRF's views answer through ``core.errors.api_exception_handler``; errors raised outside any view
(a middleware saving the session) reach ``core.errors.server_error``, which answers the same.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

from core import database
from core.errors import unavailable_response


class DatabaseOutageMiddleware(MiddlewareMixin):  # the mixin: sync and async, like Django's own
    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if database.unavailable(exception):
            return unavailable_response(request, exception)
        return None
