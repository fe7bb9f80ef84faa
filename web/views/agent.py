"""The friend's agent as a wheel: ``pip install <site>/agent/streamr_node-<version>-py3-none-any.whl``.

Public (pip sends no session, and the agent holds no secret). Built from ``AGENT_SOURCE_DIR`` on
first request, or with the image, and cached under ``AGENT_WHEEL_DIR`` (web/agent_wheel.py)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_safe

from web import agent_wheel


def current_wheel() -> Path:
    """The wheel of the agent as its sources are now (built if missing). Without sources (an image
    that ships only the built wheel), the newest wheel in the cache."""
    try:
        source = agent_wheel.read_source(Path(settings.AGENT_SOURCE_DIR))
    except agent_wheel.AgentSourceError:
        built = sorted(Path(settings.AGENT_WHEEL_DIR).glob("*/*.whl"), key=lambda p: p.stat().st_mtime)
        if not built:
            raise
        return built[-1]
    return agent_wheel.cached_wheel(source, Path(settings.AGENT_WHEEL_DIR))


def wheel_url(request: HttpRequest) -> str:
    """The absolute URL of the current wheel, as the friend's pip must fetch it."""
    return request.build_absolute_uri(reverse("agent-wheel", args=[current_wheel().name]))


@require_safe
def wheel(request: HttpRequest, filename: str) -> HttpResponse | FileResponse:
    path = current_wheel()
    if filename != path.name:  # an older version's link: say where the current one is
        raise Http404(f"No agent {filename}; the current one is {path.name}.")
    etag = f'"{path.parent.name}"'  # the sources' digest: pip's HTTP cache revalidates with it
    response: HttpResponse | FileResponse
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        response = FileResponse(path.open("rb"), as_attachment=True, filename=path.name)
        response["Content-Type"] = "application/zip"
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"  # same name after an agent change: always revalidate
    return response


@require_safe
def latest(request: HttpRequest) -> HttpResponse:
    """A stable link to whatever the current wheel is (for people; pip needs the ``.whl`` name)."""
    return redirect("agent-wheel", filename=current_wheel().name)
