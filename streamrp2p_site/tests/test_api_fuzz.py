"""An authenticated schemathesis pass over the OpenAPI schema (/api/schema/): every documented
operation, fed generated input (valid and invalid), as a signed-in friend who also holds a node
key and a CSRF token, so the pass gets past authentication into the views. The bar: no server
error, whatever the input. It runs in-process over WSGI on the suite's database (PostgreSQL in CI).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, given, settings

from nodes import services as node_services

# Generated cases per operation (fewer where the input space is small): 14 operations, ~600 requests
# in the suite; STREAMR_FUZZ_EXAMPLES=500 (say) runs a longer pass by hand (docs/RELIABILITY.md).
EXAMPLES_PER_OPERATION = int(os.environ.get("STREAMR_FUZZ_EXAMPLES", "50"))
CSRF = "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz"  # a valid 32-character CSRF secret, sent as cookie and header


@pytest.fixture
def api_schema(db: None) -> Iterator[schemathesis.BaseSchema]:
    # As Django's test client does: a request's end must not close the connection that holds the
    # test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def credentials(friend: Any, client: Client, settings: Any) -> dict[str, Any]:
    """A friend signed in, with a registered node's key: what the agent and the pages send."""
    settings.NODE_APPROVAL_REQUIRED = False
    _, token = node_services.create_enrollment_token(friend)
    _, api_key = node_services.register_node(token=token, name="fuzzed", public_url="http://fuzzed.example:8090")
    client.force_login(friend)
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    return {
        "headers": {"Authorization": f"Bearer {api_key}", "X-CSRFToken": CSRF},
        "cookies": {django_settings.SESSION_COOKIE_NAME: session, django_settings.CSRF_COOKIE_NAME: CSRF},
    }


@pytest.mark.django_db
def test_no_generated_request_makes_a_server_error(
    api_schema: schemathesis.BaseSchema, credentials: dict[str, Any]
) -> None:
    # One hypothesis run per operation, driven here rather than by schemathesis' pytest plugin
    # (its lazy fixture loader reads a pytest attribute that pytest 9 removed).
    calls: dict[str, int] = {}
    for found in api_schema.get_all_operations():
        operation = found.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,  # nothing written to the work tree; a failure prints its reproduction
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case) -> None:
            calls[case.operation.label] = calls.get(case.operation.label, 0) + 1
            case.call_and_validate(
                headers={**(case.headers or {}), **credentials["headers"]},
                cookies=credentials["cookies"],
                checks=[schemathesis.checks.not_a_server_error],
            )

        call()
    print(f"{sum(calls.values())} requests over {len(calls)} operations without a server error")
    assert len(calls) >= 10, f"the schema lost its operations: {sorted(calls)}"
