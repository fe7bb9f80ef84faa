"""POST /me/nodes/<pk>/probe: the owner asks the site to reach their node from outside now."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from core import throttle
from core.users import signed_in_user
from nodes.models import Node
from validation import reachability

SCOPE = "reachability-probe"


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
@require_POST
def probe_node(request: HttpRequest, pk: int) -> HttpResponse:
    """Probe the node's /healthz from outside now (a few seconds at most) and show the verdict with
    its advice. Only the node's owner may (anybody else gets 404: no hint which nodes exist); each
    probe is a connection the site makes on the owner's behalf, so they are throttled per person."""
    node = get_object_or_404(Node, pk=pk, owner=signed_in_user(request))
    wait = throttle.check(SCOPE, request)
    if wait is not None:
        return throttle.refusal(request, wait)
    record = reachability.probe(node, "owner")
    if _wants_json(request):
        return JsonResponse({"reachability": reachability.as_state(record)}, encoder=DjangoJSONEncoder)
    say = messages.success if record.ok else messages.warning
    say(request, f"{node.name}: {record.detail}")
    return redirect("me")
