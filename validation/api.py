"""Playback API: which URL a viewer should play a stream from (see playback.py)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import error_body
from streams.models import Stream
from validation import playback


class PlaybackSerializer(serializers.Serializer[Any]):
    stream = serializers.CharField()
    live = serializers.BooleanField()
    source = serializers.ChoiceField(choices=["node", "origin"])  # type: ignore[assignment]  # a field, not Field.source
    url = serializers.CharField(help_text="HLS playlist to play.")
    reason = serializers.CharField(help_text="Why this source was chosen.")
    node_id = serializers.IntegerField(allow_null=True)
    node_name = serializers.CharField(allow_null=True)
    candidates = serializers.IntegerField(help_text="Verified nodes relaying the stream now.")


class PlaybackView(APIView):
    """Where a viewer should play the stream from: a verified, least-loaded friend node, or the origin.
    ``exclude`` lists node ids that failed for this viewer."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        parameters=[OpenApiParameter("exclude", str, description="Comma-separated node ids to skip.")],
        responses={200: PlaybackSerializer, 404: OpenApiResponse(description="No such stream.")},
    )
    def get(self, request: Request, slug: str) -> Response:
        stream = Stream.objects.filter(slug=slug, is_active=True).first()
        if stream is None:
            return Response(error_body("not_found", f"No stream {slug!r}."), status=404)
        raw = request.query_params.get("exclude", "")
        try:
            exclude = {int(part) for part in raw.split(",") if part.strip()}
        except ValueError:
            return Response(error_body("invalid", "exclude must be comma-separated node ids."), status=400)
        choice = playback.choose(stream, exclude=exclude, secure=request.is_secure())
        return Response(PlaybackSerializer(asdict(choice)).data)
