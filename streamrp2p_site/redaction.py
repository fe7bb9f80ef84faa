"""Logs without secrets (issue 17).

The origin's hook URLs carry ``HOOK_SECRET`` as ``?secret=…`` and SRS calls ``on_hls`` for every
segment of every stream: an access log that prints request targets would print the secret all day.
Two layers keep it out of every line the site's processes write:

- ``RedactRequestPaths`` (a filter on the loggers that print request targets: uvicorn's access and
  websocket lines, daphne's ``runserver``) replaces every query value on ``/hooks/`` and, on any
  path, the values of parameters named like secrets: a wrong secret someone tried is hidden too.
- ``LineFormatter``/``JsonFormatter`` (the console handler's) replace the hook secret itself, in
  any form, wherever it appears in a finished line: messages, arguments, tracebacks.

daphne's own access log (``manage.py serve``, ``web --server daphne``) is not a logger: it goes
through ``streamrp2p_site.daphne_server``, which redacts the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from django.conf import settings

from core.logs import JsonFormatter as PlainJsonFormatter

REDACTED = "[redacted]"
HOOKS = "/hooks/"
# Query parameters whose values never belong in a log, whatever the path.
SENSITIVE_NAMES = frozenset({"secret", "key", "token", "api_key", "password"})
# A secret this short would match ordinary text; production refuses the development one anyway.
MIN_SCRUBBED_LENGTH = 8


def redact_target(target: str) -> str:
    """A request target (path and query) fit for a log line."""
    path, separator, query = target.partition("?")
    if not separator:
        return scrub(target)
    # Decoded, so /hook%73/srs is a hook path too (servers decode it before routing).
    hooks = HOOKS in unquote(path)
    fields = []
    for field in query.split("&"):
        name, equals, _ = field.partition("=")
        if hooks and field:
            field = f"{name}={REDACTED}" if equals else REDACTED
        elif equals and unquote_plus(name).strip().lower() in SENSITIVE_NAMES:
            field = f"{name}={REDACTED}"
        fields.append(field)
    return scrub(f"{path}?{'&'.join(fields)}")


def scrub(text: str) -> str:
    """``text`` with the hook secret (as is, percent- or form-encoded) replaced."""
    secret = _hook_secret()
    if len(secret) < MIN_SCRUBBED_LENGTH:
        return text
    for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
        if form in text:
            text = text.replace(form, REDACTED)
    return text


def _hook_secret() -> str:
    try:
        return str(getattr(settings, "HOOK_SECRET", ""))
    except Exception:  # settings not configured (a bare library logger): nothing to scrub against
        return ""


def _redact_value(value: Any) -> Any:
    return redact_target(value) if isinstance(value, str) else value


class RedactRequestPaths(logging.Filter):
    """Rewrites a record's string arguments (uvicorn: client, method, target, version, status;
    daphne's runserver: one mapping of details) with ``redact_target``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, Mapping):
            record.args = {name: _redact_value(value) for name, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redact_value(value) for value in record.args)
        return True


class LineFormatter(logging.Formatter):
    """The ``line`` format, with the hook secret scrubbed from the finished line."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class JsonFormatter(PlainJsonFormatter):
    """``LOG_FORMAT=json``, with the hook secret scrubbed from the finished line."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))
