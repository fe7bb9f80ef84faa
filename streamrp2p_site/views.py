from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from streams.api import streams_with_live_state


def home(request: HttpRequest) -> HttpResponse:
    """Streams, live ones first, with their viewers and how many friend nodes relay each now."""
    online = Q(assigned_nodes__stale_after__gt=timezone.now())
    streams = streams_with_live_state().annotate(relays=Count("assigned_nodes", filter=online, distinct=True))
    ordered = sorted(streams, key=lambda s: (s.live_since is None, s.slug))  # type: ignore[attr-defined]
    return render(request, "home.html", {"streams": ordered})
