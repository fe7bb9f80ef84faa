from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from nodes import services

DEFAULT_AGENT_PORT = 8090


@login_required
@require_http_methods(["GET", "POST"])
def add_node(request: HttpRequest) -> HttpResponse:
    """A friend creates a one-time enrollment token and sees the exact commands to run."""
    context: dict[str, object] = {"nodes": request.user.nodes.select_related("assigned_stream")}  # type: ignore[union-attr]
    if request.method == "POST":
        record, token = services.create_enrollment_token(request.user)  # type: ignore[arg-type]
        coordinator = request.build_absolute_uri("/").rstrip("/")
        context.update(
            token=token,
            expires_at=record.expires_at,
            register_command=(
                f"streamr-node register --coordinator {coordinator} --token {token} "
                f"--public-url http://YOUR-PUBLIC-ADDRESS:{DEFAULT_AGENT_PORT} --name my-node"
            ),
            run_command=f"streamr-node run --listen 0.0.0.0:{DEFAULT_AGENT_PORT}",
        )
    return render(request, "nodes/add_node.html", context)
