"""Appeals from "My nodes": POST /me/nodes/<pk>/appeal opens one (the owner of a node suspended by
failed checks; a re-check runs at once), GET /me/nodes/<pk>/penalty renders the node's penalty box
(the page reloads it when a live event concerns the node). Only the owner: anybody else gets 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.errors import error_body
from core.throttle import throttled
from core.users import signed_in_user
from nodes.models import Node
from validation.services import appeals
from web import penalties


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
@require_POST
@throttled("appeal")  # per friend: each appeal is a re-check the site runs on their behalf
def appeal_node(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in_user(request)
    message = str(request.POST.get("message", ""))
    try:
        appeal = appeals.open_appeal(pk, user, message)
    except appeals.AppealError as exc:
        if exc.status == 404:
            if _wants_json(request):
                return JsonResponse(error_body(exc.code, exc.message), status=404)
            raise Http404(exc.message) from None
        if _wants_json(request):
            return JsonResponse(error_body(exc.code, exc.message), status=exc.status)
        messages.error(request, exc.message)
        return redirect("me")
    if _wants_json(request):
        return JsonResponse(
            {"appeal": {"id": appeal.pk, "node": appeal.node_id, "outcome": appeal.outcome}}, status=202
        )
    messages.success(request, f"Appeal sent: {appeal.node.name} is re-checked now. The result appears here.")
    return redirect("me")


@login_required
@require_GET
def node_penalty(request: HttpRequest, pk: int) -> HttpResponse:
    node = get_object_or_404(Node, pk=pk, owner=signed_in_user(request))
    penalties.annotate([node])
    return render(request, "nodes/_node_penalty.html", {"node": node})
