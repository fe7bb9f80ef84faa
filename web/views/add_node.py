"""Add a node: install the agent from this site, then a one-time enrollment token and the exact
commands, with copy buttons; the page turns green live when the new node's first heartbeat arrives."""

from __future__ import annotations

import ipaddress

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from core.throttle import throttled
from core.users import signed_in_user
from nodes import services
from web.views.agent import wheel_url

DEFAULT_AGENT_PORT = 8090
PLACEHOLDER_ADDRESS = "YOUR-PUBLIC-ADDRESS"


def suggested_address(request: HttpRequest) -> str | None:
    """The address this page was opened from, when it is a public one: a friend who opens the page
    at home, on the node's network, sees the router's public address, which is what viewers reach
    (the web tier puts the proxy's X-Forwarded-For into REMOTE_ADDR). None for loopback, private
    and other non-public addresses, which no viewer could reach."""
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return None
    if not address.is_global:
        return None
    return f"[{address}]" if address.version == 6 else str(address)


def shell_lines(program: str, *options: tuple[str, str]) -> tuple[str, str]:
    """A command on one line (what the copy button copies: it also works where a backslash does
    not continue a line) and the same with one option per line (what the page shows, so a long
    URL never wraps in the middle)."""
    parts = [program, *(f"{flag} {value}" for flag, value in options)]
    return " ".join(parts), " \\\n  ".join(parts)


@login_required
@require_http_methods(["GET", "POST"])
@throttled("enrollment-token", methods=["POST"])  # per friend: each POST makes a new token
def add_node(request: HttpRequest) -> HttpResponse:
    """A friend installs the agent, creates a one-time enrollment token and sees the exact commands."""
    user = signed_in_user(request)
    nodes = list(user.nodes.select_related("assigned_stream").order_by("pk"))
    context: dict[str, object] = {
        "nodes": nodes,
        "install_command": f"pip install {wheel_url(request)}",
        "port": DEFAULT_AGENT_PORT,
    }
    if request.method == "POST":
        record, token = services.create_enrollment_token(user)
        address = suggested_address(request)
        public_url = f"http://{address or PLACEHOLDER_ADDRESS}:{DEFAULT_AGENT_PORT}"
        register_line, register_shown = shell_lines(
            "streamr-node register",
            ("--coordinator", request.build_absolute_uri("/").rstrip("/")),
            ("--token", token),
            ("--public-url", public_url),
        )
        context.update(
            token=token,
            expires_at=record.expires_at,
            public_url=public_url,
            address_suggested=address is not None,
            register_command=register_line,
            register_shown=register_shown,
            run_command="streamr-node run",
            # The first heartbeat of a node that is not one of these is the new node's.
            known_nodes=" ".join(str(node.pk) for node in nodes),
        )
    return render(request, "nodes/add_node.html", context)
