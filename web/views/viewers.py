"""Pages for everybody: the home page (live streams first) and a stream's watch page."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from nodes.models import Node, online_q
from streams.api import streams_with_live_state


def home(request: HttpRequest) -> HttpResponse:
    """Streams, live ones first, with their viewers and how many friend nodes relay each now."""
    relaying = (
        Node.objects.filter(
            online_q(timezone.now()), assigned_stream=OuterRef("pk"), relaying_slug=OuterRef("slug"), relay_running=True
        )
        .values("assigned_stream")
        .annotate(n=Count("pk"))
        .values("n")
    )
    # A subquery, not a second Count join: two joins would multiply viewers by relays.
    streams = streams_with_live_state().annotate(relays=Coalesce(Subquery(relaying, output_field=IntegerField()), 0))
    ordered = sorted(streams, key=lambda s: (s.live_since is None, s.slug))  # type: ignore[attr-defined]
    return render(request, "home.html", {"streams": ordered})


def watch(request: HttpRequest, slug: str) -> HttpResponse:
    stream = get_object_or_404(streams_with_live_state(), slug=slug)
    origin_host = urlsplit(stream.origin_hls_url()).netloc
    return render(request, "streams/watch.html", {"stream": stream, "origin_host": origin_host})
