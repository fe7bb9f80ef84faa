"""Public read API for streams."""

from __future__ import annotations

from django.db.models import Count, OuterRef, QuerySet, Subquery
from rest_framework import generics, permissions, serializers

from streams.models import Stream, StreamSession
from streams.services import watching_now


def streams_with_live_state() -> QuerySet[Stream]:
    """Active streams annotated with ``live_since`` (None when offline) and ``viewer_total``: people
    whose watch page reported loading segments in the last 30 s (not the origin's pulls, which
    include every relay's)."""
    live_session = StreamSession.objects.filter(stream=OuterRef("pk"), ended_at__isnull=True)
    return (
        Stream.objects.filter(is_active=True)
        .annotate(
            live_since=Subquery(live_session.values("started_at")[:1]),
            viewer_total=Count("watchers", filter=watching_now()),
        )
        .order_by("slug")
    )


class StreamSerializer(serializers.ModelSerializer[Stream]):
    live = serializers.SerializerMethodField()
    live_since = serializers.DateTimeField(allow_null=True, read_only=True, help_text="Start of the live session.")
    viewers = serializers.IntegerField(
        source="viewer_total",
        read_only=True,
        help_text="People watching now: watch pages that reported loading segments in the last 30 s.",
    )

    class Meta:
        model = Stream
        fields = ["slug", "title", "live", "live_since", "viewers"]

    def get_live(self, obj: Stream) -> bool:
        return getattr(obj, "live_since", None) is not None


class StreamListView(generics.ListAPIView[Stream]):
    """Active streams, whether each is live now, since when, and how many players are connected."""

    serializer_class = StreamSerializer
    permission_classes = [permissions.AllowAny]
    authentication_classes: list[type] = []
    pagination_class = None

    def get_queryset(self) -> QuerySet[Stream]:
        return streams_with_live_state()
