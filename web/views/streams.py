"""Streamer pages: my streams (OBS settings, key rotation, live state, supporters)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.users import signed_in_user
from nodes.models import online_q
from rewards.models import EntryKind, LedgerEntry
from streams import services
from streams.api import streams_with_live_state
from streams.models import Stream


def obs_settings(stream: Stream) -> dict[str, str]:
    """OBS's "Custom" service splits the publish URL into a server and a stream key."""
    server = stream.rtmp_url().rsplit("/", 1)[0]
    return {"server": server, "key_template": f"{stream.slug}?key=<your stream key>"}


@login_required
def my_streams(request: HttpRequest) -> HttpResponse:
    owner = signed_in_user(request)
    streams = list(streams_with_live_state().filter(owner=owner))
    now = timezone.now()
    week = now - timedelta(days=7)
    for stream in streams:
        stream.obs = obs_settings(stream)  # type: ignore[attr-defined]
        stream.relays = list(  # type: ignore[attr-defined]
            stream.assigned_nodes.filter(online_q(now)).select_related("owner").order_by("name")
        )
        stream.supporters = list(  # type: ignore[attr-defined]
            LedgerEntry.objects.filter(kind=EntryKind.CREDIT, stream=stream, settlement__hour__gte=week)
            .values("user__username")
            .annotate(earned=Sum("amount"), minutes=Sum("minutes"), nodes=Count("node_id", distinct=True))
            .order_by("-minutes")[:20]
        )
    new_key = request.session.pop("new_stream_key", None)  # shown once, right after a rotation
    return render(request, "streams/my_streams.html", {"streams": streams, "new_key": new_key})


@login_required
@require_POST
def rotate_key(request: HttpRequest, slug: str) -> HttpResponse:
    """A new stream key, shown once on the next page (only its digest is stored, so an old key
    can never be shown again)."""
    stream = get_object_or_404(Stream, slug=slug, owner=signed_in_user(request))
    key = services.rotate_key(stream)
    request.session["new_stream_key"] = {"slug": stream.slug, "key": key}
    messages.warning(request, f"New key for {stream.slug}: the old key stops working now. Update OBS.")
    return redirect("my-streams")
